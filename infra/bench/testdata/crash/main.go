// Command crash is a test bootstrap that fails its init by exiting.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "crash: TABLE_NAME is", os.Getenv("TABLE_NAME"), "- giving up")
	os.Exit(3)
}
