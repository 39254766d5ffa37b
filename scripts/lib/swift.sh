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
