// libsystemd's journal and service-manager notification API (pkg-config libsystemd).
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
