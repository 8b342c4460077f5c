// Program json: encoding/json decoding into map[string]interface{} and into a
// struct, and json.Marshal. Every allocation of the three workload functions
// happens inside encoding/json (cause "json").
package main

import (
	"encoding/json"
	"fmt"

	"heapdoc.dev/samples/internal/harness"
)

type Item struct {
	SKU      string   `json:"sku"`
	Quantity int      `json:"quantity"`
	Price    float64  `json:"price"`
	Tags     []string `json:"tags"`
}

type Order struct {
	ID       string            `json:"id"`
	Customer string            `json:"customer"`
	Items    []Item            `json:"items"`
	Meta     map[string]string `json:"meta"`
	Paid     bool              `json:"paid"`
}

var (
	inputs   [][]byte // JSON documents, built by setup
	orders   []Order  // values to marshal, built by setup
	sinkMap  map[string]interface{}
	sinkOrd  Order
	sinkJSON []byte
)

func setup() {
	for i := 0; i < 16; i++ {
		o := Order{
			ID:       fmt.Sprintf("ord-%06d", i),
			Customer: fmt.Sprintf("customer-%d@example.com", i),
			Meta:     map[string]string{"source": "web", "region": fmt.Sprint("eu-", i%3)},
			Paid:     i%2 == 0,
		}
		for j := 0; j < 3+i%4; j++ {
			o.Items = append(o.Items, Item{SKU: fmt.Sprintf("sku-%d-%d", i, j), Quantity: j + 1, Price: 9.99 * float64(j+1), Tags: []string{"a", "bb", "ccc"}})
		}
		b, err := json.Marshal(&o)
		if err != nil {
			panic(err)
		}
		orders = append(orders, o)
		inputs = append(inputs, b)
	}
}

//go:noinline
func decodeIntoMap(n int) {
	for i := 0; i < n; i++ {
		sinkMap = nil
		if err := json.Unmarshal(inputs[i%len(inputs)], &sinkMap); err != nil {
			panic(err)
		}
	}
}

//go:noinline
func decodeIntoStruct(n int) {
	for i := 0; i < n; i++ {
		sinkOrd = Order{}
		if err := json.Unmarshal(inputs[i%len(inputs)], &sinkOrd); err != nil {
			panic(err)
		}
	}
}

//go:noinline
func marshalJSON(n int) {
	for i := 0; i < n; i++ {
		b, err := json.Marshal(&orders[i%len(orders)])
		if err != nil {
			panic(err)
		}
		sinkJSON = b
	}
}

func main() {
	harness.Main("json", setup, []harness.Workload{
		{Name: "main.decodeIntoMap", Fn: decodeIntoMap, N: 400},
		{Name: "main.decodeIntoStruct", Fn: decodeIntoStruct, N: 400},
		{Name: "main.marshalJSON", Fn: marshalJSON, N: 400},
	})
}
