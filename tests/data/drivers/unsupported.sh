#!/bin/sh
# A driver in POSIX sh, with no Python anywhere: it answers the hello of
# drivers/PROTOCOL.md and says `unsupported` to every call, so every clause
# comes to `unsupported` with this driver's reason. tests/drivers.rs runs it
# as --target driver:tests/data/drivers/unsupported.sh.
if [ "$1" != "--protocol" ] || [ "$2" != "1" ]; then
  echo "unsupported.sh speaks protocol 1 only, not: $*" >&2
  exit 2
fi
printf '%s\n' '{"hello": {"protocol": 1, "name": "nothing", "version": "0 on sh", "start_methods": ["fork"], "capabilities": []}}' >&4
while IFS= read -r request <&3; do
  printf '%s\n' '{"unsupported": "this driver implements no call"}' >&4
done
