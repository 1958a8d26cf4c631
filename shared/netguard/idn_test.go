package netguard

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestASCIIURL(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"https://bücher.example/hook", "https://xn--bcher-kva.example/hook"},
		{"https://例え.テスト/x", "https://xn--r8jz45g.xn--zckzah/x"},
		{"https://BÜCHER.Example:8443/hook?a=1&b=ü#frag", "https://xn--bcher-kva.example:8443/hook?a=1&b=ü#frag"},
		{"HTTPS://Bücher.example", "https://xn--bcher-kva.example"},
		{"https://b%C3%BCcher.example/", "https://xn--bcher-kva.example/"},
		{"https://bücher.example./", "https://xn--bcher-kva.example./"},
		{"https://bücher。example/", "https://xn--bcher-kva.example/"},
		{"https://bücher．example｡/", "https://xn--bcher-kva.example./"},
		{"https://ß.example/", "https://xn--zca.example/"},                             // non-transitional
		{"https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"}, // as net/http sends it
		{"https://مثال.example/", "https://xn--mgbh0fb.example/"},
		{"https://ü.xn--bcher-kva.example/", "https://xn--tda.xn--bcher-kva.example/"},
		{"http://１２７．０．０．１/", "http://127.0.0.1/"},
		{"http://０ｘ７ｆ．１:8080/", "http://0x7f.1:8080/"},
		{"http://ｌｏｃａｌｈｏｓｔ/", "http://localhost/"},

		// Left as they are, for netguard to judge.
		{"https://example.com/hook", "https://example.com/hook"},
		{"https://EXAMPLE.com/a%2Fb", "https://EXAMPLE.com/a%2Fb"},
		{"https://xn--bcher-kva.example/hook", "https://xn--bcher-kva.example/hook"},
		{"https://under_score.example/", "https://under_score.example/"},
		{"https://[::1]/", "https://[::1]/"},
		{"https://bücher.example/a b", "https://bücher.example/a b"},
		{"https://bücher.example:８０/", "https://bücher.example:８０/"},
		{"https://bücher.example/" + strings.Repeat("a", 2048), "https://bücher.example/" + strings.Repeat("a", 2048)},
		{"mailto:ü@example.com", "mailto:ü@example.com"},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := ASCIIURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ASCIIURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestASCIIURLInvalid(t *testing.T) {
	long := strings.Repeat("ü", 60)
	tests := []struct {
		in   string
		want string // a substring of the reason
	}{
		{"https://a\u2024b.example/", `U+2024 '․', which is not allowed`},
		{"https://bü_cher.example/", `U+005F '_', which is not allowed`},
		{"https://bücher\u3000x.example/", "U+3000"},
		{"https://\uFFFD.example/", "U+FFFD"},
		{"https://ü\U000E0001.example/", "U+E0001, which is not allowed"},
		{"https://%FF%C3%BC.example/", "not valid UTF-8"},
		{"https://［：：１］/", "U+FF3B"},
		{"https://-bücher.example/", `label "-bücher" begins or ends with a hyphen`},
		{"https://bücher-.example/", "begins or ends with a hyphen"},
		{"https://bü--cher.example/", ""}, // third and fourth places only
		{"https://ab--ü.example/", `label "ab--ü" has hyphens in the third and fourth places`},
		{"https://\u0301ü.example/", "begins with a combining mark"},
		{"https://a\u200db.ü.example/", "zero-width joiner"},
		{"https://ü.xn--zz/", `label "xn--zz" is not valid punycode`},
		{"https://ü.xn--8g7ccp/", `label "xn--8g7ccp" is not valid punycode, or decodes to an invalid label`},
		{"https://اb.example/", "bidi rule"},
		{"https://ü.١٢٣/", "bidi rule"},
		{"https://bücher..example/", "it has an empty label"},
		{"https://.bücher.example/", "it has an empty label"},
		{"https://bücher.example../", "it has an empty label"},
		{"https://ü.\u00ad/", `label "\u00ad" is empty once mapped`},
		{"https://ü.xn--/", `label "xn--" is empty once mapped`},
		{"https://" + long + ".example/", "more than 63"},
		{"https://" + strings.Repeat("ü.", 130) + "example/", "more than 253"},
	}
	for _, tt := range tests {
		got, err := ASCIIURL(tt.in)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ASCIIURL(%q) = %v, want it accepted", tt.in, err)
			}
			continue
		}
		var be *BlockedError
		if !errors.As(err, &be) {
			t.Errorf("ASCIIURL(%q) = %q, %v; want *BlockedError", tt.in, got, err)
			continue
		}
		if !strings.Contains(be.Reason, "is not a valid internationalised domain name: ") || !strings.Contains(be.Reason, tt.want) {
			t.Errorf("ASCIIURL(%q) reason %q, want it to contain %q", tt.in, be.Reason, tt.want)
		}
		if got != "" {
			t.Errorf("ASCIIURL(%q) returned %q with its error", tt.in, got)
		}
		if cerr := aws.CheckURL(context.Background(), tt.in, panicResolver{t}); errString(cerr) != errString(err) {
			t.Errorf("CheckURL(%q) = %v, want ASCIIURL's refusal %v", tt.in, cerr, err)
		}
	}
}

// TestCheckURLIDN checks that an internationalised spelling of a host gets
// exactly the verdict, and reason, of its ASCII form, and that an allowed one
// comes back as an *IDNError holding that form.
func TestCheckURLIDN(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		idn    string
		ascii  string
		want   string // "" allowed; else a substring of the reason
	}{
		{"public name", aws, "https://bücher.example/hook", "https://xn--bcher-kva.example/hook", ""},
		{"Japanese", aws, "https://例え.テスト/x", "https://xn--r8jz45g.xn--zckzah/x", ""},
		{"subdomain", aws, "https://api.bücher.test:8443/", "https://api.xn--bcher-kva.test:8443/", ""},
		{"ideographic dots", aws, "https://bücher。example。/", "https://xn--bcher-kva.example./", ""},
		{"RTL", aws, "https://مثال.example/", "https://xn--mgbh0fb.example/", ""},
		{"resolves private", aws, "https://privé.example/", "https://xn--priv-epa.example/", "resolves to 10.0.0.5, a private address"},
		{"resolves metadata", aws, "https://métadat.example/", "https://xn--mtadat-bva.example/", "cloud metadata"},
		{"one address loopback", aws, "https://lōcal.example/", "https://xn--lcal-l3a.example/", "resolves to ::1"},
		{"http under RequireHTTPS", aws, "http://bücher.example/", "http://xn--bcher-kva.example/", "must use https"},
		{"user info", aws, "https://u:p@bücher.example/", "https://u:p@xn--bcher-kva.example/", "user name"},

		{"full-width loopback", strict, "http://１２７．０．０．１/", "http://127.0.0.1/", "127.0.0.1 is a loopback"},
		{"ideographic-dot loopback", strict, "http://127。0。0。1/", "http://127.0.0.1/", "loopback"},
		{"mixed dots loopback", strict, "http://１２７｡０．0。１:8080/", "http://127.0.0.1:8080/", "loopback"},
		{"full-width trailing dot", strict, "http://１２７．０．０．１．/", "http://127.0.0.1./", "loopback"},
		{"full-width decimal", strict, "http://２１３０７０６４３３/", "http://2130706433/", "2130706433 is 127.0.0.1, a loopback"},
		{"full-width hex", strict, "http://０ｘ７ｆ．１/", "http://0x7f.1/", "127.0.0.1, a loopback"},
		{"full-width upper hex", strict, "http://０Ｘ７Ｆ０００００１/", "http://0x7f000001/", "127.0.0.1, a loopback"},
		{"full-width octal", strict, "http://０１７７．０．０．１/", "http://0177.0.0.1/", "127.0.0.1, a loopback"},
		{"full-width short", strict, "http://１０．１．１/", "http://10.1.1/", "10.1.0.1, a private address"},
		{"full-width metadata", strict, "http://１６９．２５４．１６９．２５４/latest/meta-data/", "http://169.254.169.254/latest/meta-data/", "cloud metadata"},
		{"full-width zero", strict, "http://０/", "http://0/", "this network"},
		{"full-width public", strict, "http://８．８．８．８/", "http://8.8.8.8/", ""},
		{"full-width public loosely", strict, "http://１３４７４４０７２/", "http://134744072/", "written unusually"},
		{"ends in number", strict, "http://ü.１/", "http://xn--tda.1/", "neither a name nor an IPv4 address"},
		{"number in the middle", strict, "http://ü.１.example/", "http://xn--tda.1.example/", ""},
		{"full-width localhost", strict, "http://ｌｏｃａｌｈｏｓｔ:8080/", "http://localhost:8080/", "localhost is a loopback name"},
		{"upper full-width localhost", strict, "http://ＬＯＣＡＬＨＯＳＴ/", "http://localhost/", "loopback name"},
		{"sub.localhost", strict, "http://api.ｌｏｃａｌｈｏｓｔ/", "http://api.localhost/", "loopback name"},
		{"IDN .localhost", strict, "http://bücher.localhost/", "http://xn--bcher-kva.localhost/", "loopback name"},

		{"dev full-width loopback", loopback, "http://１２７．０．０．１:9000/", "http://127.0.0.1:9000/", ""},
		{"dev full-width localhost", loopback, "http://ｌｏｃａｌｈｏｓｔ:9000/", "http://localhost:9000/", ""},
		{"dev still no private", loopback, "http://１０．０．０．１/", "http://10.0.0.1/", "RFC 1918"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ASCIIURL(tt.idn)
			if err != nil || u != tt.ascii {
				t.Fatalf("ASCIIURL(%q) = %q, %v; want %q", tt.idn, u, err, tt.ascii)
			}
			got := tt.policy.CheckURL(context.Background(), tt.idn, names)
			same := tt.policy.CheckURL(context.Background(), tt.ascii, names)
			if tt.want == "" {
				var ie *IDNError
				if same != nil || !errors.As(got, &ie) {
					t.Fatalf("CheckURL(%q) = %v and its ASCII form %q: %v; want an *IDNError and nil", tt.idn, got, tt.ascii, same)
				}
				if ie.URL != tt.ascii || ie.ASCIIURL() != tt.ascii {
					t.Fatalf("CheckURL(%q) hands back %q, want %q", tt.idn, ie.URL, tt.ascii)
				}
				if !strings.Contains(ie.Error(), "use its ASCII form, "+tt.ascii) {
					t.Fatalf("IDNError says %q", ie.Error())
				}
				return
			}
			if errString(got) != errString(same) {
				t.Fatalf("CheckURL(%q) = %v\n  its ASCII form %q: %v", tt.idn, got, tt.ascii, same)
			}
			var be *BlockedError
			if !errors.As(got, &be) || !strings.Contains(be.Reason, tt.want) {
				t.Fatalf("CheckURL(%q) = %v, want a *BlockedError containing %q", tt.idn, got, tt.want)
			}
		})
	}
}

func TestCheckURLIDNResolveFailure(t *testing.T) {
	err := aws.CheckURL(context.Background(), "https://nowhere.bücher.example/", names)
	var ie *IDNError
	if !errors.Is(err, ErrResolve) || errors.As(err, &ie) || !strings.Contains(err.Error(), `"nowhere.xn--bcher-kva.example"`) {
		t.Fatalf("CheckURL = %v, want ErrResolve naming the ASCII form", err)
	}
}

// TestParseURLRefusesNonASCII checks that ParseURL, which the dispatcher
// uses, never lets a non-ASCII host through, whatever it would become:
// net/http would convert it behind the guard's back.
func TestParseURLRefusesNonASCII(t *testing.T) {
	for _, raw := range []string{"https://bücher.example/", "https://b%C3%BCcher.example/", "http://１２７．０．０．１/",
		"http://ｌｏｃａｌｈｏｓｔ/", "http://127。0。0。1/"} {
		_, err := loopback.ParseURL(raw)
		var be *BlockedError
		if !errors.As(err, &be) || !strings.Contains(be.Reason, "is not ASCII; give an internationalised name in its ASCII (xn--) form") {
			t.Errorf("ParseURL(%q) = %v, want refused as not ASCII", raw, err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
