#!/usr/bin/env bash
# Installs the Debian packages mlrun needs (only those missing), configures and builds.
# Idempotent: with everything installed and nothing changed it takes about a second.
#   scripts/setup.sh            build into ./build
#   BUILD_DIR=out scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

packages=(
  cmake ninja-build g++ pkg-config
  libcli11-dev libcurl4-openssl-dev libssl-dev libsimdjson-dev libtbb-dev libspdlog-dev
  libyaml-cpp-dev nlohmann-json3-dev libhiredis-dev libcsv-dev doctest-dev libsqlite3-dev
  zlib1g-dev             # gzip-compressed tables (src/ml/io/text_file.cpp)
  nettle-dev             # sha256 (src/core/util.cpp): lighter to load than OpenSSL's libcrypto
  redis-server           # the Redis queue tests start their own server (tests/core/redis_server.hpp)
  libcpp-httplib-dev     # the submission server and the fake MLflow server of the tests
  postgresql libpq-dev   # the PostgreSQL store; its tests make a throwaway cluster (initdb + pg_ctl)
  chromium               # the submission server's web page is tested in headless chromium
  libtorch-dev libopencv-dev libcairo2-dev
  libxgboost-dev         # the xgboost model kind (src/ml/models/xgb_model.cpp)
  libopenblas0-pthread   # libtorch calls the system BLAS: OpenBLAS is ~7x faster than the reference one
)
# Benchmark peers are not needed by the tests: MLRUN_EXTRA_PACKAGES="python3-rq python3-dask
# python3-fastapi python3-uvicorn wrk" scripts/setup.sh installs them too (bench/README.md).
packages+=(${MLRUN_EXTRA_PACKAGES:-})

missing=()
for p in "${packages[@]}"; do
  [ -n "$p" ] || continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Configure once; again if an earlier configure left the ML half out.
if [ ! -f "$BUILD_DIR/build.ninja" ] || grep -q '^MLRUN_BUILD_ML:BOOL=OFF' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMLRUN_BUILD_ML=ON >/dev/null
fi
# Two jobs: each libtorch translation unit needs about 1.5 GB and the machines have 2 cores.
log="$BUILD_DIR/build.log"
if ! cmake --build "$BUILD_DIR" -j "${JOBS:-2}" >"$log" 2>&1; then
  { grep -E 'error|FAILED' -A5 "$log" | head -60 >&2; } || true
  echo "setup: build failed (full log: $log)" >&2
  exit 1
fi
