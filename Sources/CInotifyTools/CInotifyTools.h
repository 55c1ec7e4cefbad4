// libinotifytools (Debian libinotifytools0-dev 3.22), which ships no pkg-config file.
#include <inotifytools/inotify.h>
#include <inotifytools/inotifytools.h>
