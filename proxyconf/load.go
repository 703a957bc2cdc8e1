package proxyconf

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Problem is one thing wrong with a configuration file: the file, the key it
// concerns (zero-based route and array indexes: "route[1].backends[0]"), and
// what is wrong. Key is empty for a TOML syntax error; Msg then starts with
// the line number ("line 3: ..."). Msg is one line: text from the file in it
// has its control characters escaped.
type Problem struct {
	File, Key, Msg string
}

// Error reads "ferrum.toml: route[1].backends[0]: https is not supported; ...",
// always on one line: a control character, in the file name too, is written
// as an escape.
func (p Problem) Error() string {
	s := p.File + ": " + p.Msg
	if p.Key != "" {
		s = p.File + ": " + p.Key + ": " + p.Msg
	}
	return oneLine(s)
}

// Problems is the error Load and Parse return for a bad file: every problem
// found, not just the first, in file order where practical.
type Problems []Problem

// Error puts one problem on each line, without a trailing newline.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// envDebugToken overrides debug.auth_token when set and non-empty.
const envDebugToken = "FERRUM_DEBUG_TOKEN"

// Load reads and validates the file at path, taking FERRUM_DEBUG_TOKEN from
// the process environment. A file that cannot be read gives a plain error
// naming path; a file that can be read but is wrong gives Problems. Load
// blocks only on reading the file and may be called from any goroutine; the
// Config returned belongs to the caller and is never modified again.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Parse(path, data, os.Getenv)
}

// Parse validates data as if it had been read from the file called name;
// getenv supplies the environment (nil means an empty one). It returns either
// a complete Config or Problems listing everything wrong with data. Parse
// does no I/O, keeps no reference to data, and may be called concurrently.
// It accepts any bytes: a panic while decoding them, which would be a bug in
// ferrum, becomes a Problem saying the file could not be parsed.
func Parse(name string, data []byte, getenv func(string) string) (cfg *Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			msg := oneLine(fmt.Sprintf("%s: internal error in ferrum: %v", unparsable, r))
			cfg, err = nil, Problems{{File: name, Msg: msg}}
		}
	}()
	return parse(name, data, getenv)
}

// parse is Parse without the safety net.
func parse(name string, data []byte, getenv func(string) string) (*Config, error) {
	text := strings.TrimPrefix(string(data), utf8BOM)
	if line, msg, ok := checkText(text); !ok {
		return nil, Problems{syntaxAt(name, line, msg)}
	}
	if line, msg, ok := checkNesting(text); !ok {
		return nil, Problems{syntaxAt(name, line, msg)}
	}
	doc, order, plain := decodePlain(text)
	if !plain {
		md, err := toml.Decode(text, &doc)
		if err != nil {
			return nil, Problems{syntaxProblem(name, text, err)}
		}
		order = sectionOrder(md.Keys())
	}
	d := &decoder{file: name, order: order}
	cfg := d.config(doc, getenv)
	if len(d.found) > 0 {
		return nil, d.problems()
	}
	return cfg, nil
}

// syntaxAt is the Problem for a syntax error found on line.
func syntaxAt(name string, line int, msg string) Problem {
	return Problem{File: name, Msg: fmt.Sprintf("line %d: %s", line, msg)}
}

// sectionOrder ranks each top-level key by where it first appears in the
// file, so that problems can be listed in file order section by section.
func sectionOrder(keys []toml.Key) map[string]int {
	order := make(map[string]int)
	for _, k := range keys {
		if _, ok := order[k[0]]; !ok {
			order[k[0]] = len(order)
		}
	}
	return order
}

// decoder collects the problems of one Parse call. It is used by a single
// goroutine and dropped when Parse returns.
type decoder struct {
	file  string
	order map[string]int       // top-level key -> rank of its first appearance
	found []Problem            // in the order they were found
	urls  map[string]parsedURL // backend URL as written -> what parseBackendURL made of it

	// Slabs newTable takes tables and their key lists from.
	tables []table
	keys   []string
}

// add records a problem with key, a full key name such as "route[0].health.interval".
func (d *decoder) add(key, msg string) {
	d.found = append(d.found, Problem{File: d.file, Key: key, Msg: oneLine(msg)})
}

// problems returns what was found, sections in file order. Within a section
// the order is the order of reading, which follows the contract's key order;
// routes stay in file order.
func (d *decoder) problems() Problems {
	rank := func(key string) int {
		top := key
		if q, err := strconv.QuotedPrefix(key); err == nil {
			top, _ = strconv.Unquote(q) // a key that is not bare, as table.key quoted it
		} else if i := strings.IndexAny(key, ".["); i >= 0 {
			top = key[:i]
		}
		if r, ok := d.order[top]; ok {
			return r
		}
		return len(d.order) // not from the file: FERRUM_DEBUG_TOKEN
	}
	ps := slices.Clone(d.found)
	slices.SortStableFunc(ps, func(a, b Problem) int { return rank(a.Key) - rank(b.Key) })
	return ps
}

// config reads the whole document. Global sections go first because routes
// inherit from them.
func (d *decoder) config(doc map[string]any, getenv func(string) string) *Config {
	cfg := Default()
	cfg.File = d.file
	root := d.root(doc)
	server := root.sub("server")
	readServer(server, &cfg.Server)
	readUpstream(root.sub("upstream"), &cfg.Upstream)
	readHealth(root.sub("health"), &cfg.Health)
	readRetry(root.sub("retry"), &cfg.Retry)
	serverListen := cfg.Server.Listen
	if server.rejected("listen") {
		serverListen = "" // a clash with the default would only add noise
	}
	readDebug(root.sub("debug"), &cfg.Debug, serverListen)
	readLog(root.sub("log"), &cfg.Log)
	cfg.Routes = readRoutes(root, &cfg)
	root.done()

	if getenv != nil {
		if tok := getenv(envDebugToken); tok != "" {
			if isBlank(tok) {
				d.add(envDebugToken, "is only white space; unset it or set a real token")
			} else {
				cfg.Debug.AuthToken = tok
			}
		}
	}
	return &cfg
}
