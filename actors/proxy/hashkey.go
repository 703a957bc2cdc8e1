package proxy

import (
	"github.com/cespare/xxhash/v2"

	"ferrum/actors/proxy/wire"
	"ferrum/proxyconf"
)

// hashKey is a request's consistent_hash key, hashed; ok is false when the
// route does not hash or the request has no (or an empty) key.
type hashKey struct {
	hash uint64
	ok   bool
}

// hashKey hashes the request's consistent_hash key once, from the head
// before the body is read. It allocates nothing.
func (cc *clientConn) hashKey(t *Table, rt *route) hashKey {
	h, ok := cc.keyHash(t, rt)
	return hashKey{h, ok}
}

func (cc *clientConn) keyHash(t *Table, rt *route) (uint64, bool) {
	if rt.conf.Balancing != proxyconf.ConsistentHash {
		return 0, false
	}
	fields := cc.req.Fields
	k := rt.conf.HashKey
	switch k.Source {
	case proxyconf.HashClientIP:
		xff := cc.xffVals[:0]
		for _, f := range fields {
			if fieldClass(f.Name) == fieldXFF {
				xff = append(xff, f.Value)
			}
		}
		cc.xffVals = xff[:0]
		a := t.trust.ClientIP(cc.peer, xff).As16()
		return xxhash.Sum64(a[:]), true
	case proxyconf.HashHeader:
		for _, f := range fields {
			if wire.EqualFold(f.Name, k.Name) {
				if len(f.Value) == 0 {
					return 0, false
				}
				return xxhash.Sum64(f.Value), true
			}
		}
	case proxyconf.HashCookie:
		for _, f := range fields {
			if wire.EqualFold(f.Name, "cookie") {
				if v := cookieValue(f.Value, k.Name); len(v) > 0 {
					return xxhash.Sum64(v), true
				}
			}
		}
	case proxyconf.HashQuery:
		if v := queryValue(cc.r.query, k.Name); v != "" {
			return xxhash.Sum64String(v), true
		}
	}
	return 0, false
}

// cookieValue finds cookie name in one Cookie field value without parsing
// the rest ("a=1; b=2"); quotes around the value are dropped.
func cookieValue(line []byte, name string) []byte {
	for len(line) > 0 {
		end := 0
		for end < len(line) && line[end] != ';' {
			end++
		}
		part := trimSpace(line[:end])
		if len(part) > len(name) && string(part[:len(name)]) == name && part[len(name)] == '=' {
			v := part[len(name)+1:]
			for len(v) > 0 && v[0] == '"' {
				v = v[1:]
			}
			for len(v) > 0 && v[len(v)-1] == '"' {
				v = v[:len(v)-1]
			}
			return v
		}
		if end == len(line) {
			break
		}
		line = line[end+1:]
	}
	return nil
}

// queryValue finds parameter name in a raw query; the value is hashed as
// sent, percent-encoding and all.
func queryValue(raw, name string) string {
	for raw != "" {
		part := raw
		if i := indexByte(raw, '&'); i >= 0 {
			part, raw = raw[:i], raw[i+1:]
		} else {
			raw = ""
		}
		if len(part) > len(name) && part[:len(name)] == name && part[len(name)] == '=' {
			return part[len(name)+1:]
		}
	}
	return ""
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
