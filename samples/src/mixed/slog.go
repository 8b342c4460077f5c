//go:build go1.21

package main

import "log/slog"

var (
	slogger    *slog.Logger
	idsBoxed2  []any
	skusBoxed2 []any
)

// placeOrders: an int64 and a string boxed into slog's ...any, whose
// variadic slice stays on the stack. Go >= 1.21.
//
//go:noinline
func placeOrders(n int) {
	for i := 0; i < n; i++ {
		for j := range users {
			slogger.Info("order placed", "id", users[j].ID, "sku", items[j].SKU) // @slog
		}
	}
}

//go:noinline
func placeOrdersPreboxed(n int) {
	for i := 0; i < n; i++ {
		for j := range users {
			slogger.Info("order placed", "id", idsBoxed2[j], "sku", skusBoxed2[j]) // @slog
		}
	}
}

func init() {
	cases = append(cases, mixedCase{placeOrders, 40, []variant{
		{placeOrdersPreboxed, []string{"slog-args"}},
	}})
	laterSetups = append(laterSetups, func() {
		slogger = slog.New(slog.NewTextHandler(discard{}, nil))
		for j := range users {
			idsBoxed2 = append(idsBoxed2, users[j].ID)
			skusBoxed2 = append(skusBoxed2, items[j].SKU)
		}
	})
}
