//go:build go1.20

package main

import "bytes"

// cloneBodies: bytes.Clone, a one-shot copy (not growth). Go >= 1.20.
//
//go:noinline
func cloneBodies(n int) {
	for i := 0; i < n; i++ {
		for j := range records {
			sinkBody = bytes.Clone(records[j])
		}
	}
}

//go:noinline
func cloneBodiesCopied(n int) {
	for i := 0; i < n; i++ {
		for j := range records {
			sinkBody = bodyBuf[:copy(bodyBuf, records[j])]
		}
	}
}

var (
	sinkBody []byte
	bodyBuf  = make([]byte, 64)
)

func init() {
	cases = append(cases, mixedCase{cloneBodies, 40, []variant{{cloneBodiesCopied, []string{"clone"}}}})
}
