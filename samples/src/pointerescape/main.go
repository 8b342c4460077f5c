// Program pointerescape: a constructor that returns &T{...}, so T escapes to
// the heap (runtime.newobject, dropped from heap profiles: the leaf is the
// constructor's line; cause "pointer-escape").
package main

import "heapdoc.dev/samples/internal/harness"

type Session struct {
	ID      int64
	User    string
	Roles   [4]string
	Expires int64
	Next    *Session
}

var (
	users    []string
	sinkSess *Session
)

func setup() {
	for i := 0; i < 64; i++ {
		users = append(users, "user")
	}
}

//go:noinline
func newSession(id int64, user string) *Session {
	return &Session{ID: id, User: user, Expires: id + 3600}
}

//go:noinline
func constructSessions(n int) {
	for i := 0; i < n; i++ {
		s := newSession(int64(i), users[i%len(users)])
		s.Next = sinkSess
		if i%16 == 0 {
			s.Next = nil // keep the retained chain short
		}
		sinkSess = s
	}
}

func main() {
	harness.Main("pointerescape", setup, []harness.Workload{
		{Name: "main.constructSessions", Fn: constructSessions, N: 4000},
	})
}
