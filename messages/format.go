package messages

import (
	"fmt"
	"strconv"
	"strings"
)

// applyFormat applies the printf-like format of an insert (%1!08x! → "08x")
// to a value that is already text, as the parser rendered it.
//
// FormatMessage formats the raw argument; offline we only have its text, so
// numeric verbs parse the value first (decimal, or hex with a 0x prefix) and
// fall back to the text unchanged when it is not a number. Length modifiers
// (h, l, ll, I64, I32, w, …) describe the argument's C type and are ignored;
// s/S/c/C print the text with the width and precision given. A '*' width or
// precision (which would consume another insert) is not supported: the value
// is printed as is.
func applyFormat(format, v string) string {
	if format == "" || strings.IndexByte(format, '*') >= 0 {
		return v
	}
	verb := format[len(format)-1]
	spec := stripLengthModifiers(format[:len(format)-1])
	if !validSpec(spec) {
		return v
	}
	switch verb {
	case 's', 'S', 'c', 'C':
		return fmt.Sprintf("%"+spec+"s", v)
	case 'd', 'i':
		if n, ok := parseSigned(v); ok {
			return fmt.Sprintf("%"+spec+"d", n)
		}
	case 'u':
		if n, ok := parseUnsigned(v); ok {
			return fmt.Sprintf("%"+spec+"d", n)
		}
	case 'x', 'X', 'o':
		if n, ok := parseUnsigned(v); ok {
			return fmt.Sprintf("%"+spec+string(verb), n)
		}
	case 'p':
		if n, ok := parseUnsigned(v); ok {
			return fmt.Sprintf("%016X", n)
		}
	case 'e', 'E', 'f', 'g', 'G':
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return fmt.Sprintf("%"+spec+string(verb), f)
		}
	}
	return v
}

// stripLengthModifiers drops C length modifiers at the end of a spec.
func stripLengthModifiers(spec string) string {
	for _, m := range []string{"I64", "I32", "ll", "I", "h", "l", "w", "L", "z", "j", "t"} {
		if strings.HasSuffix(spec, m) {
			return stripLengthModifiers(spec[:len(spec)-len(m)])
		}
	}
	return spec
}

// validSpec reports whether spec is flags, width and precision only, so it
// can be handed to fmt without changing its meaning. Width and precision
// are capped (maxPad) so a table cannot make one insert megabytes long.
func validSpec(spec string) bool {
	i := 0
	for i < len(spec) && strings.IndexByte("-+ #0", spec[i]) >= 0 {
		i++
	}
	number := func() bool {
		j := i
		for i < len(spec) && spec[i] >= '0' && spec[i] <= '9' {
			i++
		}
		n, err := strconv.Atoi(spec[j:i])
		return i == j || err == nil && n <= maxPad
	}
	if !number() {
		return false
	}
	if i < len(spec) && spec[i] == '.' {
		i++
		if !number() {
			return false
		}
	}
	return i == len(spec)
}

// maxPad bounds a format's width and precision.
const maxPad = 256

// parseSigned reads a decimal integer or a 0x-prefixed hex one. A leading 0
// is decimal, not octal: event values such as "0123" are decimal text.
func parseSigned(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	if h, ok := strings.CutPrefix(strings.ToLower(v), "0x"); ok {
		n, err := strconv.ParseUint(h, 16, 64)
		return int64(n), err == nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// parseUnsigned is parseSigned for unsigned verbs; a negative decimal wraps
// as C's unsigned conversion would.
func parseUnsigned(v string) (uint64, bool) {
	v = strings.TrimSpace(v)
	if h, ok := strings.CutPrefix(strings.ToLower(v), "0x"); ok {
		n, err := strconv.ParseUint(h, 16, 64)
		return n, err == nil
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return n, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return uint64(n), err == nil
}
