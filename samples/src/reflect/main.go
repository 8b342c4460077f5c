// Program reflect: generic field copying with package reflect (reflect.New,
// Value.Interface, reflect.MakeSlice, reflect.Append, MakeMap/SetMapIndex;
// all allocations inside package reflect; cause "reflection").
package main

import (
	"reflect"

	"heapdoc.dev/samples/internal/harness"
)

type Profile struct {
	Name  string
	Email string
	Age   int
	Score float64
	Tags  []string
}

var (
	srcs    []reflect.Value
	typ     reflect.Type
	tagsTyp reflect.Type
	sinkAny any
	sinkVal reflect.Value
	tagVals []reflect.Value
	mapTyp  reflect.Type
	keyVals []reflect.Value
	intVals []reflect.Value
)

func setup() {
	typ = reflect.TypeOf(Profile{})
	tagsTyp = reflect.TypeOf([]string(nil))
	mapTyp = reflect.TypeOf(map[string]int(nil))
	for i := 0; i < 16; i++ {
		srcs = append(srcs, reflect.ValueOf(Profile{Name: "n", Email: "e@x", Age: 20 + i, Score: float64(i)}))
	}
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		tagVals = append(tagVals, reflect.ValueOf(s))
		keyVals = append(keyVals, reflect.ValueOf(s))
		intVals = append(intVals, reflect.ValueOf(len(intVals)*1000))
	}
}

//go:noinline
func reflectCopy(n int) {
	for i := 0; i < n; i++ {
		src := srcs[i%len(srcs)]
		dst := reflect.New(typ).Elem()
		for f := 0; f < typ.NumField()-1; f++ {
			dst.Field(f).Set(src.Field(f))
		}
		tags := reflect.MakeSlice(tagsTyp, 0, 0)
		for _, t := range tagVals {
			tags = reflect.Append(tags, t)
		}
		dst.Field(typ.NumField() - 1).Set(tags)
		sinkAny = dst.Interface()
		m := reflect.MakeMap(mapTyp)
		for j, k := range keyVals {
			m.SetMapIndex(k, intVals[j])
		}
		sinkVal = m
	}
}

func main() {
	harness.Main("reflect", setup, []harness.Workload{
		{Name: "main.reflectCopy", Fn: reflectCopy, N: 1000},
	})
}
