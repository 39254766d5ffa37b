# Sourced by the scripts that build: finds the Swift toolchain even where the PATH lacks it
# (sudo resets PATH to secure_path, which never has the toolchain's own directory).
if ! command -v swift >/dev/null 2>&1; then
  for candidate in ${SWIFT_HOME:+"$SWIFT_HOME/usr/bin"} /opt/swift/usr/bin /usr/share/swift/usr/bin /opt/swift-*/usr/bin /usr/local/swift/usr/bin; do
    if [ -x "$candidate/swift" ]; then
      export PATH="$candidate:$PATH"
      break
    fi
  done
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "swift was not found: install Swift 6.3 (swift.org) or set SWIFT_HOME to the toolchain's root" >&2
  exit 1
fi

# The shipped release build: the Swift runtime and Foundation linked into each binary, in its own
# scratch directory, linked by lld with packed relative relocations (DT_RELR, glibc ≥ 2.36: a
# 2.6 MB relocation table becomes 22 KB) and without exporting every symbol (no 0.8 MB .dynsym
# for the loader to hash through). A warm runner's RSS goes from 25 to 21 MB (README, Performance).
# Every function in its own section, and those that start-up and a diagnosis run placed together
# first (scripts/lib/symbol-order.txt, made by scripts/symbol-order): the kernel maps code 64 KiB at
# a time around each page used, and scattered start-up code made most of .text resident.
STATIC_RELEASE=(-c release --static-swift-stdlib --scratch-path .build-static
  -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic
  -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
  -Xlinker "--symbol-ordering-file=$PWD/scripts/lib/symbol-order.txt" -Xlinker --no-warn-symbol-ordering)
