#!/usr/bin/env bash
# Writes the make rules that let `make build` rebuild exactly the functions
# whose inputs changed: for each functions/<fn>, dist/<fn>/bootstrap depends
# on go.mod, go.sum, the build settings stamp, and the directory and the Go
# (and embedded) files of every package of this module that the function
# imports, directly or not, as built for Lambda (linux/arm64, lambda.norpc).
# INFRA_DEPS lists the same for the CDK app (./infra, built for this
# machine), so `make synth` runs it only when it or a binary changed.
# The file's own rule lists every input so that it is rewritten when any of
# them changes; empty rules keep make going when a file is deleted.
#
#   infra/build/deps.sh OUT STAMP   (run from the module root)
set -euo pipefail
out=$1 stamp=$2
root=$(pwd)
format='{{if and .Module .Module.Main}}P {{.ImportPath}} {{.Dir}}{{range .GoFiles}} {{$.Dir}}/{{.}}{{end}}{{range .CgoFiles}} {{$.Dir}}/{{.}}{{end}}{{range .EmbedFiles}} {{$.Dir}}/{{.}}{{end}}{{"\n"}}{{if eq .Name "main"}}F {{.ImportPath}}{{range .Deps}} {{.}}{{end}}{{"\n"}}{{end}}{{end}}'
{
  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go list -deps -tags lambda.norpc -f "$format" ./functions/...
  # The CDK app, as go run builds it here; its packages get their own
  # names (Q) as their files may differ from the Lambda build's.
  go list -deps -f "$format" ./infra | sed 's/^P /Q /; s/^F /G /'
} |
awk -v root="$root/" -v out="$out" -v stamp="$stamp" '
  function rel(p) { if (index(p, root) == 1) return substr(p, length(root) + 1); return p }
  $1 == "P" {
    s = ""
    for (i = 3; i <= NF; i++) { f = rel($i); s = s " " f; all[f] = 1 }
    files[$2] = s
    next
  }
  $1 == "Q" {
    s = ""
    for (i = 3; i <= NF; i++) { f = rel($i); s = s " " f; all[f] = 1 }
    hostfiles[$2] = s
    next
  }
  $1 == "G" && $2 ~ /\/infra$/ {
    s = ""
    for (i = 2; i <= NF; i++) if ($i in hostfiles) s = s hostfiles[$i]
    print "INFRA_DEPS := go.mod go.sum" s
  }
  $1 == "F" && $2 ~ /\/functions\/[^\/]+$/ {
    fn = $2; sub(/.*\//, "", fn)
    s = ""
    for (i = 2; i <= NF; i++) if ($i in files) s = s files[$i]
    print "dist/" fn "/bootstrap: go.mod go.sum " stamp s
  }
  END {
    printf "%s: go.mod go.sum functions", out
    n = 0
    for (f in all) { printf " %s", f; names[++n] = f }
    print ""
    for (i = 1; i <= n; i++) print names[i] ":"
  }' > "$out.tmp"
mv "$out.tmp" "$out"
