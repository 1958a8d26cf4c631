// Command initerror is a test bootstrap that reports a failed init to the
// Runtime API (POST /2018-06-01/runtime/init/error), as a custom runtime
// does, then stays alive.
package main

import (
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
	body := `{"errorMessage":"no config","errorType":"Runtime.InitError"}`
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err == nil {
		resp.Body.Close()
	}
	os.Stderr.WriteString("initerror: reported\n")
	time.Sleep(time.Minute)
}
