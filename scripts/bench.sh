#!/usr/bin/env bash
# Throughput and latency of jurisgate against direct-to-upstream and nginx as
# a plain reverse proxy, on this machine, in one run, alternating targets
# (A B A B …) over several rounds so drift hits all of them alike.
#
#   scripts/bench.sh [ROUNDS] [SECONDS]     (defaults: 3 rounds, 10 s per run)
#   BENCH_ONLY="nginx jurisgate-fsync" scripts/bench.sh 3 5   (some targets only)
#
# Installs wrk and nginx from Debian's packages if missing, builds release
# binaries, starts everything on loopback, and writes the figures to
# target/bench/results.tsv and a summary to target/bench/summary.md.
#
# Targets: the upstream directly, nginx as a plain reverse proxy, a bare
# hyper proxy built and laid out like the gateway that only forwards (the
# floor: what the HTTP stack costs), the same layout without hyper (what
# tokio and the kernel cost), jurisgate (policy + durable audit, on
# the default `runtime = "per_core"`: one single-threaded runtime per core,
# SO_REUSEPORT listeners), the same with `runtime = "multi_thread"` (one
# work-stealing runtime), the same with `audit.writer_scheduling =
# "normal"`, jurisgate (policy, audit not synced); and with
# TLS on both sides (client -> proxy -> upstream, the upstream's certificate
# verified against a pinned CA): the TLS upstream directly, nginx and
# jurisgate (policy + durable audit). One `jurisgate certs dev` folder serves
# every TLS endpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-3}"
SECS="${2:-10}"
OUT=target/bench
mkdir -p "$OUT"
rm -rf "$OUT"/run && mkdir -p "$OUT"/run

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx; then
  apt-get update -qq && apt-get install -y -qq wrk nginx >/dev/null
fi
cargo build --release --quiet -p jurisgate -p jurisgate-bench
BIN=target/release

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
UP=$(free_port); NG=$(free_port); JF=$(free_port); JN=$(free_port); JP=$(free_port)
HB=$(free_port); JW=$(free_port); RP=$(free_port)
UPS=$(free_port); NGS=$(free_port); JFS=$(free_port)
CERTS="$PWD/$OUT/run/certs"
"$BIN"/jurisgate certs dev --out "$CERTS" >/dev/null
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$BIN"/jurisgate-bench upstream --listen 127.0.0.1:"$UP" & PIDS+=($!); UP_PID=$!
"$BIN"/jurisgate-bench upstream --listen 127.0.0.1:"$UPS" \
  --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server-key.pem" & PIDS+=($!); UPS_PID=$!

cat > "$OUT"/run/nginx.conf <<NGINX
worker_processes auto;
pid $PWD/$OUT/run/nginx.pid;
error_log $PWD/$OUT/run/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream app { server 127.0.0.1:$UP; keepalive 256; }
  upstream app_tls { server 127.0.0.1:$UPS; keepalive 256; }
  server {
    listen 127.0.0.1:$NG backlog=4096;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
  server {
    listen 127.0.0.1:$NGS ssl backlog=4096;
    ssl_certificate $CERTS/server.pem;
    ssl_certificate_key $CERTS/server-key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass https://app_tls;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate $CERTS/ca.pem;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
    }
  }
}
NGINX
nginx -c "$PWD/$OUT/run/nginx.conf" -g 'daemon off;' & PIDS+=($!); NG_PID=$!
"$BIN"/jurisgate-bench proxy --listen 127.0.0.1:"$HB" --upstream http://127.0.0.1:"$UP" & PIDS+=($!); HB_PID=$!
"$BIN"/jurisgate-bench raw-proxy --listen 127.0.0.1:"$RP" --upstream 127.0.0.1:"$UP" & PIDS+=($!); RP_PID=$!

setup() { # dir port durability [setup args…] -> prints config path then token
  local dir=$1 port=$2 durability=$3; shift 3
  "$BIN"/jurisgate-bench setup --dir "$dir" --listen "127.0.0.1:$port" --durability "$durability" "$@"
}
mapfile -t F < <(setup "$OUT/run/fsync" "$JF" fsync --upstream "http://127.0.0.1:$UP")
mapfile -t N < <(setup "$OUT/run/none" "$JN" none --upstream "http://127.0.0.1:$UP")
mapfile -t P < <(setup "$OUT/run/multithread" "$JP" fsync --upstream "http://127.0.0.1:$UP" --runtime multi_thread)
mapfile -t W < <(setup "$OUT/run/writer-normal" "$JW" fsync --upstream "http://127.0.0.1:$UP" --writer-scheduling normal)
mapfile -t S < <(setup "$OUT/run/tls" "$JFS" fsync --upstream "https://127.0.0.1:$UPS" --tls-dir "$CERTS")
TOKEN="${F[1]}"
TOKEN_NONE="${N[1]}"
TOKEN_MT="${P[1]}"
TOKEN_WN="${W[1]}"
TOKEN_TLS="${S[1]}"
RUST_LOG=error "$BIN"/jurisgate serve --config "${F[0]}" >/dev/null & PIDS+=($!); JF_PID=$!
RUST_LOG=error "$BIN"/jurisgate serve --config "${N[0]}" >/dev/null & PIDS+=($!); JN_PID=$!
RUST_LOG=error "$BIN"/jurisgate serve --config "${P[0]}" >/dev/null & PIDS+=($!); JP_PID=$!
RUST_LOG=error "$BIN"/jurisgate serve --config "${W[0]}" >/dev/null & PIDS+=($!); JW_PID=$!
RUST_LOG=error "$BIN"/jurisgate serve --config "${S[0]}" >/dev/null & PIDS+=($!); JS_PID=$!

wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
for p in "$UP" "$NG" "$HB" "$RP" "$JF" "$JN" "$JP" "$JW" "$UPS" "$NGS" "$JFS"; do wait_port "$p"; done

# CPU time (user + system, in clock ticks) of a process and its children:
# nginx's workers are children of its master.
ticks() {
  local p sum=0 f
  for p in "$1" $(pgrep -P "$1" || true); do
    read -ra f < /proc/"$p"/stat && sum=$((sum + f[13] + f[14]))
  done
  echo "$sum"
}
HZ=$(getconf CLK_TCK)
run() { # name port conns token pid [scheme]
  local line before after
  [[ -z "${BENCH_ONLY:-}" || " $BENCH_ONLY " == *" $1 "* ]] || return 0
  # The no-sync target leaves hundreds of MB of dirty pages that the kernel
  # writes back ~30 s later, in the middle of another target's fdatasyncs:
  # every run starts with nothing left to write.
  sync
  before=$(ticks "$5")
  line=$(wrk -t2 -c"$3" -d"${SECS}"s --timeout 5s -s scripts/bench/report.lua \
        -H "Authorization: Bearer $4" -H "Host: api.demo.jurisgate" \
        "${6:-http}://127.0.0.1:$2/v1/messages/bench" | grep '^RESULT')
  after=$(ticks "$5")
  # The last column: CPU µs per request spent by the target itself (the
  # proxy, or the upstream for "direct"), a steadier figure than req/s on a
  # machine whose cores are shared with the load generator.
  line="$line $(echo "$line" | awk -v t=$((after - before)) -v hz="$HZ" \
        '{ printf "%.1f", t / hz * 1e6 / ($2 > 0 ? $2 : 1) }')"
  echo -e "$1\t$3\t${line#RESULT }" | tr ' ' '\t' >> "$OUT"/results.tsv
  echo "  $1 c=$3: ${line#RESULT }"
}
: > "$OUT"/results.tsv
for round in $(seq "$ROUNDS"); do
  echo "round $round/$ROUNDS"
  for c in 64 256; do
    run direct "$UP" "$c" "$TOKEN" "$UP_PID"
    run nginx "$NG" "$c" "$TOKEN" "$NG_PID"
    run bare-hyper "$HB" "$c" "$TOKEN" "$HB_PID"
    run raw-proxy "$RP" "$c" "$TOKEN" "$RP_PID"
    run jurisgate-fsync "$JF" "$c" "$TOKEN" "$JF_PID"
    run jurisgate-fsync-multithread "$JP" "$c" "$TOKEN_MT" "$JP_PID"
    run jurisgate-fsync-writer-normal "$JW" "$c" "$TOKEN_WN" "$JW_PID"
    run jurisgate-nosync "$JN" "$c" "$TOKEN_NONE" "$JN_PID"
    run direct-tls "$UPS" "$c" "$TOKEN_TLS" "$UPS_PID" https
    run nginx-tls "$NGS" "$c" "$TOKEN_TLS" "$NG_PID" https
    run jurisgate-tls-fsync "$JFS" "$c" "$TOKEN_TLS" "$JS_PID" https
  done
done
RSS_F=$(awk '/VmHWM/ {print $2}' /proc/"$JF_PID"/status)
RSS_N=$(awk '/VmHWM/ {print $2}' /proc/"$JN_PID"/status)
RSS_P=$(awk '/VmHWM/ {print $2}' /proc/"$JP_PID"/status)

python3 - "$OUT"/results.tsv "$RSS_F" "$RSS_N" "$ROUNDS" "$SECS" "$RSS_P" > "$OUT"/summary.md <<'PY'
import statistics, sys, collections, platform, os
path, rss_f, rss_n, rounds, secs, rss_p = sys.argv[1:]
rows = collections.defaultdict(list)
for line in open(path):
    name, conns, reqs, rps, p50, p99, p999, errs, cpu = line.split()
    rows[(name, int(conns))].append((float(rps), int(p50), int(p99), int(p999), int(errs), float(cpu)))
cpu = next((l.split(":",1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; "
      f"{rounds} rounds x {secs} s per run, wrk -t2, targets alternated within each round.\n")
print("| target | conns | req/s (median) | p50 µs | p99 µs | p99.9 µs | errors | ÷ nginx | ÷ direct | CPU µs/req |")
print("|---|---|---|---|---|---|---|---|---|---|")
med = lambda xs, i: statistics.median(x[i] for x in xs)
groups = (("", ("direct", "nginx", "bare-hyper", "raw-proxy", "jurisgate-fsync", "jurisgate-fsync-multithread",
                "jurisgate-fsync-writer-normal", "jurisgate-nosync")),
          ("-tls", ("direct-tls", "nginx-tls", "jurisgate-tls-fsync")))
for suffix, names in groups:
    for conns in (64, 256):
        base = lambda name: med(rows[(name + suffix, conns)], 0) if rows[(name + suffix, conns)] else None
        ratio = lambda rps, b: f"{rps / b:.2f}" if b else "—"
        base_n, base_d = base("nginx"), base("direct")
        for name in names:
            r = rows[(name, conns)]
            if not r:
                continue
            rps = med(r, 0)
            print(f"| {name} | {conns} | {rps:,.0f} | {med(r,1):.0f} | {med(r,2):.0f} | {med(r,3):.0f} | {sum(x[4] for x in r)} | {ratio(rps, base_n)} | {ratio(rps, base_d)} | {med(r,5):.1f} |")
print("\nCPU µs/req: user + system CPU time of the target's own process (nginx with its workers; "
      "the upstream for direct) over the run, per request served.")
print("\nbare-hyper: `jurisgate-bench proxy`, the gateway's HTTP stack and runtime layout forwarding only: "
      "no attribution, policy, audit or routing. raw-proxy: `jurisgate-bench raw-proxy`, the same layout "
      "without hyper (httparse, one upstream connection per client connection, messages copied through).")
print("\nRatios compare like with like: plain targets with plain nginx and the upstream, TLS targets with TLS nginx and the TLS upstream.")
print(f"\nPeak RSS after the run: jurisgate (fsync) {int(rss_f)//1024} MiB, jurisgate (no sync) {int(rss_n)//1024} MiB, "
      f"jurisgate (fsync, multi-thread runtime) {int(rss_p)//1024} MiB.")
PY
cat "$OUT"/summary.md
