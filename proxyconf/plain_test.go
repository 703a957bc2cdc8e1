package proxyconf

import (
	"maps"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// plainSeeds are files near the edges of the plain subset, on both sides.
var plainSeeds = []string{
	"", "\n", "# only a comment", "  \t\n# c\r\n\n",
	everyKey, oneRoute, string(manyRoutes(3, false)), string(manyRoutes(3, true)),
	strings.ReplaceAll(everyKey, "\n", "\r\n"), oneRoute + "\r", "a = 1\r\n\r\n",
	// Headers.
	"[a]\n[a]\n", "[a]\n[[a]]\n", "[[a]]\n[a]\n", "[ a ]\n", "[[ a ]]\n", "[ [a] ]\n", "[[a]\n", "[a]]\n",
	"[a.b]\n", "[[a]]\n[a.b]\n[a.b]\n", "[[a]]\n[a . b]\nx = 1\n[[a]]\n[a.b]\n", "[[a]]\n[[a.b]]\n",
	"[[a]]\nb = 1\n[a.b]\n", "[[a]]\n[a.b.c]\n", "[a]\n[a.b]\n", "[a.b]\n[a]\n", "[a] # c\nb = 1 # c\n",
	"[a]x = 1\n", "[\"a\"]\n", "['a']\n", "[a.\"b\"]\n", "[]\n", "[[]]\n", "[a.]\n", "[.a]\n",
	"a = [{b = 1}]\n[[a]]\n", "[[a]]\na = 1\n[a.a]\n", "route = [{}]\n[route.health]\n",
	// Keys.
	"a = 1\na = 2\n", "a.b = 1\n", "a . b = 1\n", "\"a\" = 1\n", "1 = 2\n", "true = false\n", "- = 1\n",
	"_ = 1\n", "a=1\n", "a =1", "a= 1 ", "a\n= 1\n", "a = \n1\n", "= 1\n", "a = 1 b = 2\n", "a = 1\n[a]\n",
	// Scalars.
	"a = -0\n", "a = +1\n", "a = 01\n", "a = -01\n", "a = 1_000\n", "a = 0x10\n", "a = 1.5\n", "a = 1e3\n",
	"a = 999999999999999999\n", "a = -999999999999999999\n", "a = 9999999999999999999\n",
	"a = inf\n", "a = nan\n", "a = 1979-05-27\n", "a = 07:32:00\n", "a = truex\n", "a = true#c\n",
	"a = \"\"\n", "a = ''\n", "a = \"\"\"x\"\"\"\n", "a = '''x'''\n", "a = \"\"\"\"\n", "a = \"a\\nb\"\n",
	"a = 'a\\nb'\n", "a = \"a\tb\"\n", "a = \"unterminated\n", "a = 'x\r\n'\n", "a = \"é ∂ 😀\"\n",
	"a = \"x\"y\n", "a = 'x''y'\n", "a = \"#\" # \"\n",
	// Arrays.
	"a = []\n", "a = [ ]\n", "a = [,]\n", "a = [1,]\n", "a = [1,,2]\n", "a = [1 2]\n", "a = [[1]]\n",
	"a = [\n  1, # one\n  2,\n]\n", "a = [ # c\n]\n", "a = [1, \"x\", true, {b = 1}]\n", "a = [\r\n1\r\n]\r\n",
	"a = [1\n", "a = [{b = [1]}]\n", "a = [{b = {c = 1}}]\n",
	// Inline tables.
	"a = {}\n", "a = { }\n", "a = {b = 1}\n", "a = {b = 1,}\n", "a = {b = 1, b = 2}\n", "a = {b.c = 1}\n",
	"a = {\nb = 1}\n", "a = {b = 1 # c\n}\n", "a = {a = 1}\n", "a = {b = [1]}\n", "a = {b = 1}\n[a]\n",
	"[[r]]\nb = [{u = 1, w = 2}, {u = 1}]\n[[r]]\nb = [{}]\n", "[[r]]\nh = [1]\n[[r]]\nh = {i = 1}\n",
	"[[r]]\n[r.b]\n[[r]]\nb = [{u = 1}]\n", "[[r]]\nb = [{b = 1}]\n",
	// Not UTF-8 text a plain file has, left to the library.
	"\ufeffa = 1\n", "a = 1\n\ufeff",
}

// FuzzPlainDecode holds decodePlain to its promise: whatever it accepts, the
// library decodes to the same values, with the same order of top-level keys.
func FuzzPlainDecode(f *testing.F) {
	shipped, err := os.ReadFile("../ferrum.toml")
	if err != nil {
		f.Fatalf("read the shipped config: %v", err)
	}
	f.Add(shipped)
	for _, s := range plainSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkPlain(t, string(data)) })
}

// TestPlainDecode runs the seeds of FuzzPlainDecode and wants the files
// ferrum ships and benchmarks taken by decodePlain, not left to the library.
func TestPlainDecode(t *testing.T) {
	for _, s := range plainSeeds {
		checkPlain(t, s)
	}
	shipped, err := os.ReadFile("../ferrum.toml")
	if err != nil {
		t.Fatalf("read the shipped config: %v", err)
	}
	for _, s := range []string{string(shipped), everyKey, string(manyRoutes(3, false)), string(manyRoutes(3, true)),
		"[[r]]\nb = [{u = 1, w = 2}, {u = 1}]\n[[r]]\nb = [{}]\n", "a = [\n  1, # one\n  2,\n]\n", "[ a ]\n"} {
		if _, _, ok := decodePlain(s); !ok {
			t.Errorf("decodePlain(%q) left it to the library", s)
		}
	}
}

// checkPlain compares decodePlain with the library on text, which Parse
// would hand to both only after checkText and checkNesting passed it.
func checkPlain(t *testing.T, text string) {
	t.Helper()
	text = strings.TrimPrefix(text, utf8BOM)
	if _, _, ok := checkText(text); !ok {
		return
	}
	if _, _, ok := checkNesting(text); !ok {
		return
	}
	doc, order, ok := decodePlain(text)
	if !ok {
		return
	}
	var want map[string]any
	md, err := toml.Decode(text, &want)
	if err != nil {
		t.Fatalf("decodePlain(%q) accepted what the library refuses: %v", text, err)
	}
	if !reflect.DeepEqual(doc, want) {
		t.Fatalf("decodePlain(%q) =\n%#v\nthe library decodes\n%#v", text, doc, want)
	}
	if wantOrder := sectionOrder(md.Keys()); !maps.Equal(order, wantOrder) {
		t.Fatalf("decodePlain(%q) order = %v, the library's %v", text, order, wantOrder)
	}
}
