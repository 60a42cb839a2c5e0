module github.com/dms-executor/dms-executor/clients/go

go 1.19

require github.com/godbus/dbus/v5 v5.1.0

// Built offline from Debian's packaged sources (golang-dbus-dev): no module
// proxy is reachable from the machines this project runs on. README.md says
// how to build against another copy.
replace github.com/godbus/dbus/v5 => /usr/share/gocode/src/github.com/godbus/dbus
