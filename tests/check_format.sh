#!/bin/sh
# Every C file is formatted as .clang-format says; one TAP line per file.
cd "$(dirname "$0")/.." || exit 1
set -- daemon/*.[ch] tests/*.[ch] tests/fuzz/*.c
echo "1..$#"
i=0
for f; do
	i=$((i + 1))
	if clang-format --dry-run --Werror "$f" 2>/dev/null; then
		echo "ok $i - $f"
	else
		echo "not ok $i - $f (run: clang-format -i $f)"
	fi
done
