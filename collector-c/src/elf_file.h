/* ELF symbol lookup for probe placement: .symtab and .dynsym (hidden and
 * local functions included), PLT/GOT targets, virtual address to file
 * offset, build id, and the separate debug file of a stripped binary. */
#ifndef PI_ELF_FILE_H
#define PI_ELF_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pi_elf_sym {
	char *name;
	uint64_t vaddr;
	uint64_t size;
	bool func;
};

struct pi_elf_import {
	uint64_t vaddr; /* PLT stub or GOT slot that stands for `name` */
	char *name;
};

struct pi_elf_reloc {
	uint64_t offset; /* where the loader writes */
	uint64_t addend; /* the vaddr it writes (RELATIVE relocations) */
};

struct pi_elf_segment {
	uint64_t vaddr, memsz, offset, filesz;
	bool exec;
};

struct pi_elf_file {
	char *path;
	uint16_t machine; /* EM_X86_64, EM_AARCH64 */
	char build_id[41];
	bool has_symtab;
	struct pi_elf_sym *syms;
	size_t n_syms;
	struct pi_elf_import *imports;
	size_t n_imports;
	struct pi_elf_segment *segs;
	size_t n_segs;
	struct pi_elf_reloc *relative; /* sorted by offset */
	size_t n_relative;
	char *debuglink; /* .gnu_debuglink file name, if any */
	char *interp;	 /* PT_INTERP: the dynamic loader, if any */
	const char *const *prefixes;
};

/* Returns 0 or -errno; on success *out must be freed with pi_elf_file__free.
 * Only symbols starting with one of `prefixes` (NULL-terminated; NULL: all)
 * are kept: an engine's host binary (node, python) has ~10^5 of no use. */
int pi_elf_file__open(const char *path, const char *const *prefixes, struct pi_elf_file **out);
void pi_elf_file__free(struct pi_elf_file *f);

/* Adds the symbols of a separate debug file (same build id) to `f`. */
int pi_elf_file__add_debug_file(struct pi_elf_file *f, const char *debug_path);

/* Finds a separate debug file by build id or debuglink in the usual places
 * (/usr/lib/debug/.build-id/xx/yyyy.debug, next to the binary, .debug/).
 * Returns a malloc'ed path or NULL. */
char *pi_elf_file__find_debug_file(const struct pi_elf_file *f);

const struct pi_elf_sym *pi_elf_file__find(const struct pi_elf_file *f, const char *name);
/* The symbol named `name` for a PLT stub / GOT slot / function at vaddr. */
const char *pi_elf_file__name_at(const struct pi_elf_file *f, uint64_t vaddr);

/* A data object (STT_OBJECT) by name. */
const struct pi_elf_sym *pi_elf_file__find_object(const struct pi_elf_file *f, const char *name);
/* Copies the PT_INTERP path into buf; -ENOENT for a static executable. */
int pi_elf_file__interpreter(const struct pi_elf_file *f, char *buf, size_t len);
/* File offset of a virtual address in any loaded segment; -1 if none. */
int64_t pi_elf_file__file_offset(const struct pi_elf_file *f, uint64_t vaddr);

/* File offset of a virtual address in an executable segment; -1 if none. */
int64_t pi_elf_file__offset_of(const struct pi_elf_file *f, uint64_t vaddr);
/* The pointer stored at `vaddr` once loaded: the RELATIVE relocation's
 * addend where there is one, else the bytes in the file. */
int pi_elf_file__read_pointer(const struct pi_elf_file *f, uint64_t vaddr, uint64_t *out);
/* A NUL-terminated string at `vaddr`, copied into buf (truncated to len). */
int pi_elf_file__read_string(const struct pi_elf_file *f, uint64_t vaddr, char *buf, size_t len);

/* Reads `len` code bytes at vaddr from the file into buf. */
int pi_elf_file__read_code(const struct pi_elf_file *f, uint64_t vaddr, void *buf, size_t len);

#endif
