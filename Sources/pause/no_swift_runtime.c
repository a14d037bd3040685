// This program is C on musl (see Package.swift). swiftc links every executable with the
// Swift runtime's image registration (swiftrt.o), which calls these two functions; defining
// them here keeps the linker from pulling the Swift runtime (and glibc with it) in.
struct swift_metadata_sections;
void swift_addNewDSOImage(struct swift_metadata_sections *sections);
void swift_addNewDSOImage(struct swift_metadata_sections *sections) { (void)sections; }
int _swift_backtrace_isThunkFunction(const char *name);
int _swift_backtrace_isThunkFunction(const char *name) { (void)name; return 0; }
