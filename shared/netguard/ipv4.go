package netguard

import (
	"net/netip"
	"strconv"
	"strings"
)

// endsInNumber reports whether host's last label is a number (decimal, or
// hexadecimal with 0x), which makes the whole host an IPv4 address to
// browsers and to the C library (the WHATWG URL "ends in a number" rule).
// Such a host must parse as IPv4 or be refused; it is never a DNS name.
func endsInNumber(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if allDigits(last, 10) {
		return true
	}
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		return allDigits(last[2:], 16)
	}
	return false
}

// allDigits reports whether s has only digits of base (10 or 16); "" counts.
func allDigits(s string, base int) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case base == 16 && (c|0x20) >= 'a' && (c|0x20) <= 'f':
		default:
			return false
		}
	}
	return true
}

// parseLooseIPv4 parses the IPv4 spellings that inet_aton(3) and browsers
// accept: one to four parts, each decimal, octal (leading 0) or hexadecimal
// (0x), the last part filling the remaining bytes — so 2130706433,
// 0177.0.0.1, 0x7f.1 and 127.1 are all 127.0.0.1.
func parseLooseIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, p := range parts {
		n, ok := parseLoosePart(p)
		if !ok {
			return netip.Addr{}, false
		}
		nums = append(nums, n)
	}
	last := len(nums) - 1
	var v uint64
	for _, n := range nums[:last] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v = v<<8 | n
	}
	rest := uint(8 * (4 - last)) // bits the last part fills
	if nums[last] >= 1<<rest {
		return netip.Addr{}, false
	}
	v = v<<rest | nums[last]
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parseLoosePart parses one part of a loose IPv4 spelling.
func parseLoosePart(p string) (uint64, bool) {
	base := 10
	switch {
	case p == "":
		return 0, false
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true // "0x" is 0 to browsers
		}
	case len(p) > 1 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if !allDigits(p, base) { // ParseUint alone would accept "_" and signs
		return 0, false
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}
