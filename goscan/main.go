// goscan lists every Go expression that can allocate, with its static type and size, for the
// packages under a directory (and their _test.go files). heapdoc embeds this file, builds it
// once with the user's Go toolchain into its cache and runs it for --explain (issue 17).
//
//	goscan [-deps PREFIX,...] [DIR]
//
// With -deps, the dependencies of DIR's packages whose import path starts with one of the
// prefixes are scanned too (their non-test files): the standard library or module-cache
// packages the user declares as theirs with heapdoc's --module.
//
// It uses only the standard library: `go list -export -deps -test -json ./...` names the
// packages and the compiler's export data of their imports (the go build cache), go/parser
// parses the sources and go/types checks them. Output: one JSON object per line,
//
//	{"f":FILE,"l":LINE,"c":COL,"k":KIND,"t":TYPE,"s":SIZE,"e":ELEM,"p":PTRS,"callee":FUNC}
//
// KIND is one of addr (&T{}), new, composite (a slice or map literal), make-slice, make-map,
// make-chan, append, append-copy (append to an empty literal or nil: a one-shot copy),
// concat (string + or +=), conv-string (string([]byte|[]rune)), conv-bytes ([]byte(s),
// []rune(s)), box (a non-pointer value converted to an interface; callee: the function it
// is passed to), funclit (s: 8 + its captures), method-value, go, map-assign (k/v sizes in
// s and e). SIZE is the object's size in bytes (-1 unknown), ELEM the element size of a
// slice (append, make) or the value size of a map, PTRS whether the object holds pointers
// (Go's tiny allocator only takes pointer-free objects under 16 bytes).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

type pkgInfo struct {
	ImportPath   string
	Dir          string
	Export       string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	ImportMap    map[string]string
	ForTest      string
	DepOnly      bool
	Standard     bool
}

type expr struct {
	F      string `json:"f"`
	L      int    `json:"l"`
	C      int    `json:"c"`
	K      string `json:"k"`
	T      string `json:"t,omitempty"`
	S      int64  `json:"s"`
	E      int64  `json:"e"`
	P      bool   `json:"p"`
	Callee string `json:"callee,omitempty"`
}

var (
	sizes = types.SizesFor("gc", runtime.GOARCH)
	out   *json.Encoder
)

func main() {
	dir := "."
	var deps []string
	args := os.Args[1:]
	if len(args) >= 2 && args[0] == "-deps" {
		for _, d := range strings.Split(args[1], ",") {
			if d != "" {
				deps = append(deps, d)
			}
		}
		args = args[2:]
	}
	if len(args) > 0 {
		dir = args[0]
	}
	wanted := func(p pkgInfo) bool {
		for _, d := range deps {
			if strings.HasPrefix(p.ImportPath, d) {
				return true
			}
		}
		return false
	}
	cmd := exec.Command("go", "list", "-e", "-export", "-deps", "-test", "-json", "./...")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "goscan: go list: %v\n", err)
		os.Exit(1)
	}
	exports := map[string]string{}
	var roots []pkgInfo
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		var p pkgInfo
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintf(os.Stderr, "goscan: go list output: %v\n", err)
			os.Exit(1)
		}
		if p.Export != "" {
			exports[p.ImportPath] = p.Export
		}
		if p.ForTest != "" || strings.HasSuffix(p.ImportPath, ".test") || strings.HasSuffix(p.ImportPath, "_test") {
			continue
		}
		if !p.DepOnly {
			roots = append(roots, p)
		} else if wanted(p) {
			p.TestGoFiles, p.XTestGoFiles = nil, nil
			roots = append(roots, p)
		}
	}
	w := bufio.NewWriter(os.Stdout)
	out = json.NewEncoder(w)
	for _, p := range roots {
		lookup := func(path string) (io.ReadCloser, error) {
			if m, ok := p.ImportMap[path]; ok {
				path = m
			}
			for _, k := range []string{path + " [" + p.ImportPath + ".test]", path} {
				if f, ok := exports[k]; ok {
					return os.Open(f)
				}
			}
			return nil, fmt.Errorf("no export data for %s", path)
		}
		files := append(append(append([]string{}, p.GoFiles...), p.CgoFiles...), p.TestGoFiles...)
		scan(p.Dir, p.ImportPath, files, lookup)
		if len(p.XTestGoFiles) > 0 {
			scan(p.Dir, p.ImportPath+"_test", p.XTestGoFiles, lookup)
		}
	}
	w.Flush()
}

func scan(dir, path string, names []string, lookup importer.Lookup) {
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return
	}
	info := &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Defs:       map[*ast.Ident]types.Object{},
		Uses:       map[*ast.Ident]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
	}
	conf := types.Config{
		Importer: importer.ForCompiler(fset, "gc", lookup),
		Error:    func(error) {},
		Sizes:    sizes,
	}
	conf.Check(path, fset, files, info)
	s := &scanner{fset: fset, info: info}
	for _, f := range files {
		s.file(f)
	}
}

type scanner struct {
	fset *token.FileSet
	info *types.Info
	// called: selector expressions that are the function of a call (not method values)
	called map[ast.Expr]bool
}

func (s *scanner) emit(at token.Pos, kind string, t types.Type, size, elem int64, callee string) {
	s.emitP(at, kind, t, t == nil || hasPointers(t), size, elem, callee)
}

// emitP: ptrs says whether the allocated object holds pointers (for a slice, its elements).
func (s *scanner) emitP(at token.Pos, kind string, t types.Type, ptrs bool, size, elem int64, callee string) {
	p := s.fset.Position(at)
	e := expr{F: p.Filename, L: p.Line, C: p.Column, K: kind, S: size, E: elem, P: ptrs, Callee: callee}
	if t != nil {
		e.T = types.TypeString(t, func(p *types.Package) string { return p.Name() })
	}
	out.Encode(e)
}

func sizeOf(t types.Type) (n int64) {
	defer func() {
		if recover() != nil {
			n = -1
		}
	}()
	if t == nil {
		return -1
	}
	return sizes.Sizeof(t)
}

func hasPointers(t types.Type) bool {
	switch u := t.Underlying().(type) {
	case *types.Basic:
		return u.Kind() == types.String || u.Kind() == types.UnsafePointer || u.Kind() == types.UntypedString
	case *types.Array:
		return u.Len() > 0 && hasPointers(u.Elem())
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			if hasPointers(u.Field(i).Type()) {
				return true
			}
		}
		return false
	}
	return true
}

// pointerShaped: stored in an interface word without allocating.
func pointerShaped(t types.Type) bool {
	switch u := t.Underlying().(type) {
	case *types.Pointer, *types.Map, *types.Chan, *types.Signature:
		return true
	case *types.Basic:
		return u.Kind() == types.UnsafePointer
	case *types.Struct:
		return u.NumFields() == 1 && pointerShaped(u.Field(0).Type())
	case *types.Array:
		return u.Len() == 1 && pointerShaped(u.Elem())
	}
	return false
}

func (s *scanner) typeOf(e ast.Expr) types.Type {
	if tv, ok := s.info.Types[e]; ok {
		return tv.Type
	}
	return nil
}

// box reports e converted to interface type target, when that allocates.
func (s *scanner) box(e ast.Expr, target types.Type, callee string) {
	if target == nil || e == nil || !types.IsInterface(target) {
		return
	}
	tv, ok := s.info.Types[e]
	if !ok || tv.Type == nil || types.IsInterface(tv.Type) || tv.IsNil() {
		return
	}
	if tv.Value != nil {
		return // constants are boxed from read-only data
	}
	t := tv.Type
	if b, ok := t.Underlying().(*types.Basic); ok && b.Kind() == types.UntypedNil {
		return
	}
	if pointerShaped(t) {
		return
	}
	n := sizeOf(t)
	if n == 0 {
		return
	}
	if b, ok := t.Underlying().(*types.Basic); ok && n == 1 && b.Info()&types.IsNumeric|types.IsBoolean != 0 {
		return // single-byte values are boxed from runtime.staticuint64s
	}
	s.emit(e.Pos(), "box", t, n, 0, callee)
}

func funcName(info *types.Info, fun ast.Expr) string {
	fun = unparen(fun)
	var id *ast.Ident
	switch f := fun.(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		id = f.Sel
	case *ast.IndexExpr:
		return funcName(info, f.X)
	case *ast.IndexListExpr:
		return funcName(info, f.X)
	default:
		return ""
	}
	obj := info.Uses[id]
	fn, ok := obj.(*types.Func)
	if !ok {
		if obj != nil {
			return obj.Name()
		}
		return ""
	}
	return fn.FullName()
}

func (s *scanner) file(f *ast.File) {
	s.called = map[ast.Expr]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			s.called[unparen(c.Fun)] = true
		}
		return true
	})
	var sigs []*types.Signature // enclosing functions' signatures, for returns
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.FuncDecl:
			if x.Body == nil {
				return false
			}
			var sig *types.Signature
			if obj, ok := s.info.Defs[x.Name].(*types.Func); ok {
				sig, _ = obj.Type().(*types.Signature)
			}
			sigs = append(sigs, sig)
			ast.Inspect(x.Body, visit)
			sigs = sigs[:len(sigs)-1]
			return false
		case *ast.FuncLit:
			sig, _ := s.typeOf(x).(*types.Signature)
			s.emit(x.Pos(), "funclit", nil, 8+s.captures(x), 0, "")
			sigs = append(sigs, sig)
			ast.Inspect(x.Body, visit)
			sigs = sigs[:len(sigs)-1]
			return false
		case *ast.ReturnStmt:
			if len(sigs) > 0 && sigs[len(sigs)-1] != nil {
				res := sigs[len(sigs)-1].Results()
				if res.Len() == len(x.Results) {
					for i, r := range x.Results {
						s.box(r, res.At(i).Type(), "")
					}
				}
			}
		case *ast.GoStmt:
			s.emit(x.Pos(), "go", nil, -1, 0, funcName(s.info, x.Call.Fun))
		case *ast.UnaryExpr:
			if x.Op == token.AND {
				if cl, ok := unparen(x.X).(*ast.CompositeLit); ok {
					t := s.typeOf(cl)
					s.emit(x.Pos(), "addr", t, sizeOf(t), 0, "")
					// its elements are still visited (boxing into fields)
					s.compositeElems(cl)
					for _, e := range cl.Elts {
						ast.Inspect(e, visit)
					}
					return false
				}
			}
		case *ast.CompositeLit:
			t := s.typeOf(x)
			if t != nil {
				switch u := t.Underlying().(type) {
				case *types.Slice:
					s.emitP(x.Pos(), "composite", t, hasPointers(u.Elem()), int64(len(x.Elts))*sizeOf(u.Elem()), sizeOf(u.Elem()), "")
				case *types.Map:
					s.emit(x.Pos(), "composite-map", t, -1, sizeOf(u.Key())+sizeOf(u.Elem()), "")
				}
			}
			s.compositeElems(x)
		case *ast.BinaryExpr:
			if x.Op == token.ADD && !skipped[x] && isString(s.typeOf(x)) && s.info.Types[x].Value == nil {
				// one concatenation per chain: report the outermost +
				s.emitP(x.OpPos, "concat", s.typeOf(x), false, -1, 1, "")
				s.skipConcat(x.X)
				s.skipConcat(x.Y)
			}
		case *ast.AssignStmt:
			s.assign(x)
		case *ast.IncDecStmt:
			if ix, ok := unparen(x.X).(*ast.IndexExpr); ok {
				s.mapAssign(ix)
			}
		case *ast.SelectorExpr:
			if sel, ok := s.info.Selections[x]; ok && sel.Kind() == types.MethodVal && !s.called[x] {
				recv := sel.Recv()
				n := int64(8)
				if sel.Indirect() || pointerShaped(recv) {
					n += 8
				} else {
					n += sizeOf(recv)
				}
				s.emit(x.Sel.Pos(), "method-value", recv, n, 0, "")
			}
		case *ast.CallExpr:
			s.call(x)
		}
		return true
	}
	ast.Inspect(f, visit)
}

var skipped = map[ast.Expr]bool{}

func (s *scanner) skipConcat(e ast.Expr) {
	if b, ok := unparen(e).(*ast.BinaryExpr); ok && b.Op == token.ADD {
		skipped[b] = true
	}
}

func isString(t types.Type) bool {
	if t == nil {
		return false
	}
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsString != 0
}

func (s *scanner) compositeElems(cl *ast.CompositeLit) {
	t := s.typeOf(cl)
	if t == nil {
		return
	}
	switch u := t.Underlying().(type) {
	case *types.Struct:
		for i, e := range cl.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if id, ok := kv.Key.(*ast.Ident); ok {
					for j := 0; j < u.NumFields(); j++ {
						if u.Field(j).Name() == id.Name {
							s.box(kv.Value, u.Field(j).Type(), "")
						}
					}
				}
			} else if i < u.NumFields() {
				s.box(e, u.Field(i).Type(), "")
			}
		}
	case *types.Slice, *types.Array:
		var elem types.Type
		if sl, ok := u.(*types.Slice); ok {
			elem = sl.Elem()
		} else {
			elem = u.(*types.Array).Elem()
		}
		for _, e := range cl.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				e = kv.Value
			}
			s.box(e, elem, "")
		}
	case *types.Map:
		for _, e := range cl.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				s.box(kv.Key, u.Key(), "")
				s.box(kv.Value, u.Elem(), "")
			}
		}
	}
}

func (s *scanner) mapAssign(ix *ast.IndexExpr) {
	t := s.typeOf(ix.X)
	if t == nil {
		return
	}
	if m, ok := t.Underlying().(*types.Map); ok {
		s.emit(ix.Pos(), "map-assign", t, sizeOf(m.Key()), sizeOf(m.Elem()), "")
		s.box(ix.Index, m.Key(), "")
	}
}

func (s *scanner) assign(x *ast.AssignStmt) {
	for i, l := range x.Lhs {
		if ix, ok := unparen(l).(*ast.IndexExpr); ok {
			s.mapAssign(ix)
		}
		if x.Tok == token.ADD_ASSIGN && isString(s.typeOf(l)) {
			s.emitP(x.TokPos, "concat", s.typeOf(l), false, -1, 1, "")
		}
		if x.Tok == token.ASSIGN && len(x.Lhs) == len(x.Rhs) {
			s.box(x.Rhs[i], s.typeOf(l), "")
		}
	}
	if x.Tok == token.DEFINE || x.Tok == token.ASSIGN {
		return
	}
}

func (s *scanner) call(c *ast.CallExpr) {
	fun := unparen(c.Fun)
	tv := s.info.Types[fun]
	if tv.IsType() {
		// a conversion
		if len(c.Args) != 1 {
			return
		}
		to, from := tv.Type, s.typeOf(c.Args[0])
		if types.IsInterface(to) {
			s.box(c.Args[0], to, "")
			return
		}
		if from == nil {
			return
		}
		if isString(to) && !isString(from) {
			if _, ok := from.Underlying().(*types.Slice); ok {
				s.emitP(c.Pos(), "conv-string", to, false, -1, 1, "")
			}
		} else if sl, ok := to.Underlying().(*types.Slice); ok && isString(from) {
			s.emitP(c.Pos(), "conv-bytes", to, false, -1, sizeOf(sl.Elem()), "")
		}
		return
	}
	if id, ok := fun.(*ast.Ident); ok {
		if b, ok := s.info.Uses[id].(*types.Builtin); ok {
			t := s.typeOf(c)
			switch b.Name() {
			case "new":
				if len(c.Args) == 1 {
					nt := s.typeOf(c.Args[0])
					s.emit(c.Pos(), "new", nt, sizeOf(nt), 0, "")
				}
			case "make":
				if t == nil {
					return
				}
				switch u := t.Underlying().(type) {
				case *types.Slice:
					s.emitP(c.Pos(), "make-slice", t, hasPointers(u.Elem()), -1, sizeOf(u.Elem()), "")
				case *types.Map:
					s.emit(c.Pos(), "make-map", t, sizeOf(u.Key()), sizeOf(u.Elem()), "")
				case *types.Chan:
					s.emit(c.Pos(), "make-chan", t, -1, sizeOf(u.Elem()), "")
				}
			case "append":
				if t == nil || len(c.Args) == 0 {
					return
				}
				u, ok := t.Underlying().(*types.Slice)
				if !ok {
					return
				}
				kind := "append"
				first := unparen(c.Args[0])
				if cl, ok := first.(*ast.CompositeLit); ok && len(cl.Elts) == 0 && c.Ellipsis.IsValid() {
					kind = "append-copy"
				} else if tv := s.info.Types[first]; tv.IsNil() || (c.Ellipsis.IsValid() && isNilConv(s.info, first)) {
					kind = "append-copy"
				}
				s.emitP(c.Pos(), kind, t, hasPointers(u.Elem()), -1, sizeOf(u.Elem()), "")
				if !c.Ellipsis.IsValid() {
					for _, a := range c.Args[1:] {
						s.box(a, u.Elem(), "")
					}
				}
			}
			return
		}
	}
	sig, ok := s.typeOf(fun).(*types.Signature)
	if !ok {
		return
	}
	callee := funcName(s.info, fun)
	params := sig.Params()
	for i, a := range c.Args {
		var pt types.Type
		switch {
		case sig.Variadic() && i >= params.Len()-1:
			if c.Ellipsis.IsValid() {
				continue
			}
			pt = params.At(params.Len() - 1).Type().(*types.Slice).Elem()
		case i < params.Len():
			pt = params.At(i).Type()
		default:
			continue
		}
		s.box(a, pt, callee)
	}
}

func isNilConv(info *types.Info, e ast.Expr) bool {
	c, ok := e.(*ast.CallExpr)
	if !ok || len(c.Args) != 1 {
		return false
	}
	return info.Types[c.Fun].IsType() && info.Types[c.Args[0]].IsNil()
}

// captures: the bytes a func literal's closure holds: a pointer per variable captured by
// reference, the value of one captured by value (the compiler captures small, never
// reassigned variables by value; 8 bytes each is the common case).
func (s *scanner) captures(fl *ast.FuncLit) int64 {
	seen := map[types.Object]bool{}
	var n int64
	ast.Inspect(fl.Body, func(x ast.Node) bool {
		id, ok := x.(*ast.Ident)
		if !ok {
			return true
		}
		v, ok := s.info.Uses[id].(*types.Var)
		if !ok || seen[v] || v.IsField() || v.Parent() == nil || v.Pkg() == nil {
			return true
		}
		if v.Parent() == v.Pkg().Scope() {
			return true // package-level
		}
		if v.Pos() >= fl.Pos() && v.Pos() < fl.End() {
			return true // declared inside
		}
		seen[v] = true
		n += 8
		return true
	})
	return n
}

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}
