#include "no_swift_runtime.h"

void swift_addNewDSOImage(struct swift_metadata_sections *sections) { (void)sections; }
int _swift_backtrace_isThunkFunction(const char *name) { (void)name; return 0; }
