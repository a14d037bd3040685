#include "cshim.h"
#include <sys/xattr.h>
#include <unistd.h>

long swl_page_size(void) { return sysconf(_SC_PAGESIZE); }

int swl_setxattr(const char *path, const char *name, const char *value, size_t size) {
    return setxattr(path, name, value, size, 0);
}
