// pause and swiftlet-shim are C on musl (see Package.swift). swiftc links every executable with
// the Swift runtime's image registration (swiftrt.o), which calls these two functions; this
// target defines them, so the linker pulls nothing of the Swift runtime (and glibc with it) in.
#pragma once

struct swift_metadata_sections;
void swift_addNewDSOImage(struct swift_metadata_sections *sections);
int _swift_backtrace_isThunkFunction(const char *name);
