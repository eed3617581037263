#!/usr/bin/env bash
#
# check-layers.sh - keeps the broker in layers that read top to bottom
# (README "Layout", issue 10).
#
#   scripts/check-layers.sh BUILD_DIR
#
# 1. Runs nm on every object file of the broker's libraries and daemon
#    (BUILD_DIR/broker/CMakeFiles/*.dir/**/*.o), draws an edge A -> B when
#    A uses a symbol that B defines, and fails if the graph has a cycle:
#    each strongly connected set of objects is printed with one cycle
#    through it, as source file names.
# 2. Fails if a source file of the state or lifecycle layer
#    (broker/state/, broker/lifecycle/; skipped while they do not exist)
#    includes an <event2/...> header: those layers know nothing of
#    libevent.
#
# Exit status: 0 clean ("layers: N objects, no cycles"), 1 a cycle or an
# event2 include (each printed), 2 wrong usage or nothing to check.

set -euo pipefail

if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: scripts/check-layers.sh BUILD_DIR" >&2
  exit 2
fi
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
objdir=$build/broker/CMakeFiles

command -v nm >/dev/null || { echo "check-layers: nm not found (binutils)" >&2; exit 2; }
mapfile -t objs < <(find "$objdir" -path '*.dir/*' -name '*.o' 2>/dev/null | sort)
if ((${#objs[@]} == 0)); then
  echo "check-layers: no object files under $objdir; build first" >&2
  exit 2
fi

status=0

# "OBJ<TAB>D|U<TAB>SYMBOL" for every global symbol an object defines or uses.
symbols() {
  local o
  for o in "${objs[@]}"; do
    nm -P "$o" | awk -v obj="$o" '
      $2 == "U" || $2 == "w" { print obj "\tU\t" $1; next }
      $2 ~ /^[TDBRCGSVW]$/ { print obj "\tD\t" $1 }'
  done
}

# The graph and its cycles: Tarjan's strongly connected components, then a
# shortest cycle (breadth first) through the first object of each.
symbols | awk -F'\t' -v nobjs="${#objs[@]}" '
function short(o) { sub(/^.*\.dir\//, "", o); sub(/\.o$/, "", o); return o }
function connect(v,    i, w) {
  index_[v] = lowlink[v] = ++counter
  stack[++sp] = v; onstack[v] = 1
  for (i = 1; i <= nout[v]; i++) {
    w = out[v, i]
    if (!(w in index_)) {
      connect(w)
      if (lowlink[w] < lowlink[v]) lowlink[v] = lowlink[w]
    } else if (onstack[w] && index_[w] < lowlink[v])
      lowlink[v] = index_[w]
  }
  if (lowlink[v] == index_[v]) {
    ncomp++; size = 0
    do { w = stack[sp--]; onstack[w] = 0; comp[w] = ncomp; size++ } while (w != v)
    compsize[ncomp] = size; comproot[ncomp] = v
  }
}
# The shortest path from s back to s inside its component, as names.
function cycle(s,    head, tail, q, seen, prev, v, i, w, path) {
  head = tail = 0; delete seen; delete prev
  for (i = 1; i <= nout[s]; i++) {
    w = out[s, i]
    if (comp[w] == comp[s] && !(w in seen)) { seen[w] = 1; prev[w] = s; q[++tail] = w }
  }
  while (head < tail) {
    v = q[++head]
    if (v == s) break
    for (i = 1; i <= nout[v]; i++) {
      w = out[v, i]
      if (comp[w] == comp[s] && !(w in seen)) { seen[w] = 1; prev[w] = v; q[++tail] = w }
    }
  }
  path = short(s); v = prev[s]
  while (v != s) { path = short(v) " -> " path; v = prev[v] }
  return short(s) " -> " path
}
$2 == "D" { if (!($3 in def)) def[$3] = $1; objs[$1] = 1; next }
$2 == "U" { use[++nuse] = $1 "\t" $3; objs[$1] = 1 }
END {
  for (i = 1; i <= nuse; i++) {
    split(use[i], u, "\t")
    if (!(u[2] in def) || def[u[2]] == u[1] || ((u[1], def[u[2]]) in edge))
      continue
    edge[u[1], def[u[2]]] = 1
    out[u[1], ++nout[u[1]]] = def[u[2]]
  }
  for (o in objs) if (!(o in index_)) connect(o)
  bad = 0
  for (c = 1; c <= ncomp; c++) {
    if (compsize[c] < 2) continue
    bad++
    members = ""
    for (o in comp) if (comp[o] == c) members = members " " short(o)
    n = split(substr(members, 2), m, " ")
    # sorted, for a stable message
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (m[j] < m[i]) { t = m[i]; m[i] = m[j]; m[j] = t }
    members = m[1]; for (i = 2; i <= n; i++) members = members ", " m[i]
    printf "layers: cycle among %d objects: %s\n", n, members
    printf "layers:   e.g. %s\n", cycle(comproot[c])
  }
  if (bad) exit 1
  printf "layers: %d objects, no cycles\n", nobjs
}' || status=1

# The state and lifecycle layers include no libevent header.
for d in broker/state broker/lifecycle; do
  [[ -d $src/$d ]] || continue
  while IFS= read -r hit; do
    echo "layers: ${hit#"$src"/}: the ${d#broker/} layer includes a libevent header"
    status=1
  done < <(grep -EnH '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]event2/' \
    "$src/$d"/*.[ch] 2>/dev/null || true)
done

exit "$status"
