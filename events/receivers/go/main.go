// Command receiver is a webhook receiver for the chat backend's
// connections, in Go. WEBHOOK_SECRET is the connection's whsec_... secret;
// PORT the port.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {
	wh, err := standardwebhooks.NewWebhook(os.Getenv("WEBHOOK_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20)) // the raw body: verify before parsing
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		// Checks webhook-id, webhook-timestamp (±5 min) and webhook-signature.
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, "invalid signature", http.StatusBadRequest) // 4xx: not retried
			return
		}
		var data map[string]string // every payload value is a string
		if err := json.Unmarshal(body, &data); err != nil {
			http.Error(w, "not a JSON object", http.StatusBadRequest)
			return
		}
		fmt.Println(r.Header.Get("webhook-id"), data["email"], data["phone_number"])
		w.WriteHeader(http.StatusNoContent) // any 2xx is a success
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, nil))
}
