#!/bin/sh
# deps.sh - make sure every Debian package hgq needs is installed.
#
# Idempotent: installs only what is missing and runs apt-get update only
# when it has to install.  As root it installs directly; otherwise through
# sudo when that works without a password; otherwise it prints the command
# to run and fails.
set -eu

# build, verification, data, documentation and plots; the sweep runners
# (a Slurm cluster on localhost in the tests, GNU parallel)
PKGS="gcc make pkg-config libyaml-dev zlib1g-dev check \
iverilog verilator yosys dataset-fashion-mnist mandoc gnuplot-nox \
clang libclang-rt-14-dev valgrind slurm-wlm munge parallel"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	as_root="sudo -n"
else
	echo "deps.sh: missing packages:$missing" >&2
	echo "deps.sh: run as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi

echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# shellcheck disable=SC2086
$as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
