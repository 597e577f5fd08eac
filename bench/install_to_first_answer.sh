#!/usr/bin/env bash
# Install-to-first-answer: how long a user waits from `pip install` of the
# wheel into a fresh venv to the first identification, against a reference
# measured in the same run: python-magic 0.4.27 (pure Python over the
# system libmagic) installed and asked the same question.
#
#   bench/install_to_first_answer.sh WHEEL [RUNS]
#
# Each run: a fresh venv (not timed), then timed: `pip install` (pip's normal
# configuration and cache: the dependency cffi comes from the cache after the
# first run), then the first identification of /etc/hostname: the
# `magicguard` command for magicguard, `python -c` for python-magic (which
# has no command).  Prints every run and the medians.
set -euo pipefail
WHEEL=${1:?usage: $0 WHEEL [RUNS]}
RUNS=${2:-5}
PY=${PYTHON:-python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; }

measure() {  # name, pip spec, shell command (venv's bin first on PATH) -> "install answer total" seconds
    local name=$1 spec=$2 code=$3 t0 t1 t2
    rm -rf "$WORK/venv"
    "$PY" -m venv "$WORK/venv"
    t0=$(now)
    quiet "$WORK/venv/bin/python" -m pip install -q --disable-pip-version-check "$spec"
    t1=$(now)
    answer=$(PATH="$WORK/venv/bin:$PATH" bash -c "$code")
    t2=$(now)
    awk -v n="$name" -v a="$t0" -v b="$t1" -v c="$t2" -v ans="$answer" \
        'BEGIN { printf "%s %.2f %.2f %.2f  # %s\n", n, b - a, c - b, c - a, ans }'
}

{
    for _ in $(seq "$RUNS"); do
        measure magicguard "$WHEEL" "magicguard /etc/hostname"
        measure python-magic "python-magic==0.4.27" \
            "python -c \"import magic; print(magic.from_file('/etc/hostname'))\""
    done
} | tee "$WORK/runs"

echo "# name: median install s, median first answer s, median total s (of $RUNS runs)"
for name in magicguard python-magic; do
    awk -v n="$name" '$1 == n { i[++k] = $2; a[k] = $3; t[k] = $4 }
        function median(x, k,   s, j, m, tmp) { for (s = 1; s <= k; s++) for (j = s + 1; j <= k; j++)
            if (x[j] < x[s]) { tmp = x[s]; x[s] = x[j]; x[j] = tmp }
            return (k % 2) ? x[(k + 1) / 2] : (x[k / 2] + x[k / 2 + 1]) / 2 }
        END { printf "%s median: install %.2f s, first answer %.2f s, total %.2f s\n", n, median(i, k), median(a, k), median(t, k) }' "$WORK/runs"
done
