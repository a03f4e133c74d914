# SPDX-License-Identifier: Apache-2.0
# The command line: help, version, unknown commands and options.
. "$(dirname "$0")/../lib/testlib.sh"

expect_exit 0 "--help exits 0" "$UPGR" --help
expect_grep "$T/out" "^usage: upgr" "--help prints usage on stdout"
expect_exit 0 "--version exits 0" "$UPGR" --version
expect_grep "$T/out" "^upgr [0-9]+\.[0-9]+\.[0-9]+" "--version prints the version"
expect_exit 2 "unknown command exits 2" "$UPGR" frobnicate
expect_grep "$T/err" "unknown command 'frobnicate'" "unknown command is named"
expect_grep "$T/err" "^usage:" "unknown command prints usage on stderr"
