// Command envserver is a replica for tests: it serves its environment as
// JSON at /env on 127.0.0.1:$PORT.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
)

func main() {
	http.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		env := make(map[string]string)
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		env["_cwd"], _ = os.Getwd()
		json.NewEncoder(w).Encode(env)
	})
	fmt.Println("envserver listening on port", os.Getenv("PORT"))
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
}
