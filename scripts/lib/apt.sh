# Sourced by the scripts/ensure-*.sh scripts and .ci/run: installs Debian packages with apt-get, as
# root or through sudo, waiting for another apt/dpkg run's lock rather than failing at once.
#   apt_install <who> <package>...   # <who> prefixes every message; exits non-zero, loudly, on failure
apt_install() {
  local who="$1"
  shift
  command -v apt-get >/dev/null 2>&1 || { echo "$who: ERROR: apt-get not found; install Debian's $* by hand" >&2; exit 1; }
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "$who: ERROR: not root and sudo is unavailable; cannot apt-get install $*" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "$who: installing $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  local opts=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
  "${sudo[@]}" apt-get "${opts[@]}" update || { echo "$who: ERROR: apt-get update failed" >&2; exit 1; }
  # --no-install-recommends: recommended packages (exporters, web assets, …) are not needed. Debian
  # packages that enable a system service do not start it without systemd (CI containers), and the
  # tests run their own instances on ports of their own anyway.
  "${sudo[@]}" apt-get "${opts[@]}" install -y --no-install-recommends "$@" || { echo "$who: ERROR: apt-get install $* failed" >&2; exit 1; }
}
