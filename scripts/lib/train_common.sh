# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # repo, config and data_dir come from the sourcing script; bin goes back to it
# Shared by scripts/run_distribute_train.sh and scripts/run_standalone_train.sh (sourced, not run):
# the error exit, the checks of the config file and the data directory, and finding the resnext
# binary. The sourcing script sets repo (the repository's root) first.

die() {
	echo "$(basename "$0"): $*" >&2
	exit 2
}

# check_inputs resolves $config (a relative path is taken from the current directory, else from the
# repository) and checks that it and $data_dir exist.
check_inputs() {
	if [ ! -f "$config" ] && [ "${config#/}" = "$config" ] && [ -f "$repo/$config" ]; then
		config=$repo/$config
	fi
	[ -f "$config" ] || die "config file not found: $config"
	[ -d "$data_dir" ] || die "data directory not found: $data_dir"
}

# find_resnext sets bin to the binary: $RESNEXT_BIN, else resnext on PATH, else a build of the
# repository into a temporary directory removed when the script exits.
find_resnext() {
	tmp=
	trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
	if [ -n "${RESNEXT_BIN:-}" ]; then
		[ -x "$RESNEXT_BIN" ] || die "RESNEXT_BIN=$RESNEXT_BIN is not an executable file"
		bin=$RESNEXT_BIN
	elif command -v resnext >/dev/null 2>&1; then
		bin=$(command -v resnext)
	else
		local go
		go=$(command -v go || echo /usr/local/go/bin/go)
		[ -x "$go" ] || die "no resnext binary (set RESNEXT_BIN or put resnext on PATH) and no go to build one"
		tmp=$(mktemp -d)
		echo "building resnext from $repo into $tmp" >&2
		(cd "$repo" && "$go" build -o "$tmp/resnext" ./cmd/resnext) || die "go build ./cmd/resnext failed"
		bin=$tmp/resnext
	fi
}
