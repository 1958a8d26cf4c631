package httpapi

// The path parameter of seed 004's sender installations (kept beside
// PathIDs, in this file, so that the lists merge apart): a UUID, 8-4-4-4-12
// hexadecimal digits in either case.
func init() {
	PathIDs["installationId"] = IDForm{Valid: uuidForm, NotFound: notFound("Installation")}
}

func uuidForm(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				return false
			}
		}
	}
	return true
}
