// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "elf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef EM_AARCH64
#define EM_AARCH64 183
#endif

/* Limits against hostile or corrupt files. */
#define PI_ELF_MAX_SYMS (4u << 20)
#define PI_ELF_MAX_SEGS 64

static bool wanted(const struct pi_elf_file *f, const char *name)
{
	if (!f->prefixes)
		return true;
	for (const char *const *p = f->prefixes; *p; p++)
		if (!strncmp(name, *p, strlen(*p)))
			return true;
	return false;
}

static int push_sym(struct pi_elf_file *f, size_t *cap, const char *name, uint64_t vaddr,
		    uint64_t size, bool func)
{
	if (!wanted(f, name))
		return 0;
	if (f->n_syms == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		void *p;

		if (ncap > PI_ELF_MAX_SYMS)
			return -E2BIG;
		p = realloc(f->syms, ncap * sizeof(*f->syms));
		if (!p)
			return -ENOMEM;
		f->syms = p;
		*cap = ncap;
	}
	f->syms[f->n_syms].name = strdup(name);
	if (!f->syms[f->n_syms].name)
		return -ENOMEM;
	f->syms[f->n_syms].vaddr = vaddr;
	f->syms[f->n_syms].size = size;
	f->syms[f->n_syms].func = func;
	f->n_syms++;
	return 0;
}

static int push_import(struct pi_elf_file *f, size_t *cap, uint64_t vaddr, const char *name)
{
	if (!wanted(f, name))
		return 0;
	if (f->n_imports == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		void *p = realloc(f->imports, ncap * sizeof(*f->imports));

		if (!p)
			return -ENOMEM;
		f->imports = p;
		*cap = ncap;
	}
	f->imports[f->n_imports].vaddr = vaddr;
	f->imports[f->n_imports].name = strdup(name);
	if (!f->imports[f->n_imports].name)
		return -ENOMEM;
	f->n_imports++;
	return 0;
}

static Elf_Scn *find_section(Elf *e, const char *want, GElf_Shdr *out)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(e, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(e, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, out))
			continue;
		name = elf_strptr(e, shstrndx, out->sh_name);
		if (name && !strcmp(name, want))
			return scn;
	}
	return NULL;
}

static int read_symtab(Elf *e, struct pi_elf_file *f, size_t *cap, Elf64_Word type)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *data;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		if (type == SHT_SYMTAB)
			f->has_symtab = true;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym s;
			const char *name;
			int err;

			if (!gelf_getsym(data, i, &s) || !s.st_value || s.st_shndx == SHN_UNDEF)
				continue;
			if (GELF_ST_TYPE(s.st_info) != STT_FUNC && GELF_ST_TYPE(s.st_info) != STT_OBJECT &&
			    GELF_ST_TYPE(s.st_info) != STT_GNU_IFUNC)
				continue;
			name = elf_strptr(e, sh.sh_link, s.st_name);
			if (!name || !*name)
				continue;
			err = push_sym(f, cap, name, s.st_value, s.st_size,
				       GELF_ST_TYPE(s.st_info) != STT_OBJECT);
			if (err)
				return err;
		}
	}
	return 0;
}

static bool is_relative(const struct pi_elf_file *f, uint64_t type)
{
	return (f->machine == EM_X86_64 && type == 8 /* R_X86_64_RELATIVE */) ||
	       (f->machine == EM_AARCH64 && type == 1027 /* R_AARCH64_RELATIVE */);
}

static int push_relative(struct pi_elf_file *f, size_t *cap, uint64_t offset, uint64_t addend)
{
	if (f->n_relative == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		void *p;

		if (ncap > PI_ELF_MAX_SYMS)
			return -E2BIG;
		if (!(p = realloc(f->relative, ncap * sizeof(*f->relative))))
			return -ENOMEM;
		f->relative = p;
		*cap = ncap;
	}
	f->relative[f->n_relative++] = (struct pi_elf_reloc){ offset, addend };
	return 0;
}

static int cmp_reloc(const void *a, const void *b)
{
	const struct pi_elf_reloc *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* PLT stubs and GOT slots name the function a `call` really reaches. */
static int read_imports(Elf *e, struct pi_elf_file *f)
{
	GElf_Shdr rela_plt, plt, plt_sec, dynsym_sh;
	Elf_Scn *rela_scn = find_section(e, ".rela.plt", &rela_plt);
	Elf_Scn *plt_scn = find_section(e, ".plt", &plt);
	Elf_Scn *plt_sec_scn = find_section(e, ".plt.sec", &plt_sec);
	Elf_Scn *dyn_scn = find_section(e, ".dynsym", &dynsym_sh);
	Elf_Scn *rela_dyn_scn;
	GElf_Shdr rela_dyn;
	Elf_Data *rd, *dd;
	size_t cap = 0;

	if (!dyn_scn || !(dd = elf_getdata(dyn_scn, NULL)))
		return 0;
	if (rela_scn && (rd = elf_getdata(rela_scn, NULL)) && rela_plt.sh_entsize) {
		size_t n = rela_plt.sh_size / rela_plt.sh_entsize;

		for (size_t i = 0; i < n; i++) {
			GElf_Rela r;
			GElf_Sym s;
			const char *name;
			uint64_t stub = 0;
			int err;

			if (!gelf_getrela(rd, i, &r) || !gelf_getsym(dd, GELF_R_SYM(r.r_info), &s))
				continue;
			name = elf_strptr(e, dynsym_sh.sh_link, s.st_name);
			if (!name || !*name)
				continue;
			/* x86-64 with IBT: .plt.sec stub i; otherwise .plt has a
			 * header entry (x86-64: 16 bytes, aarch64: 32 bytes). */
			if (plt_sec_scn)
				stub = plt_sec.sh_addr + i * 16;
			else if (plt_scn)
				stub = plt.sh_addr + (f->machine == EM_AARCH64 ? 32 : 16) + i * 16;
			if (stub && (err = push_import(f, &cap, stub, name)))
				return err;
			/* The GOT slot too: `call *slot(%rip)` with -fno-plt. */
			if ((err = push_import(f, &cap, r.r_offset, name)))
				return err;
		}
	}
	rela_dyn_scn = find_section(e, ".rela.dyn", &rela_dyn);
	if (rela_dyn_scn && (rd = elf_getdata(rela_dyn_scn, NULL)) && rela_dyn.sh_entsize) {
		size_t n = rela_dyn.sh_size / rela_dyn.sh_entsize;

		size_t cap_rel = 0;

		for (size_t i = 0; i < n; i++) {
			GElf_Rela r;
			GElf_Sym s;
			const char *name;
			int err;

			if (!gelf_getrela(rd, i, &r))
				continue;
			if (is_relative(f, GELF_R_TYPE(r.r_info))) {
				if ((err = push_relative(f, &cap_rel, r.r_offset, r.r_addend)))
					return err;
				continue;
			}
			if (!GELF_R_SYM(r.r_info) || !gelf_getsym(dd, GELF_R_SYM(r.r_info), &s))
				continue;
			name = elf_strptr(e, dynsym_sh.sh_link, s.st_name);
			if (name && *name && (err = push_import(f, &cap, r.r_offset, name)))
				return err;
		}
	}
	return 0;
}

static void read_build_id(Elf *e, struct pi_elf_file *f)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		Elf_Data *data;
		size_t off = 0, name_off, desc_off;
		GElf_Nhdr nh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			const unsigned char *d = (const unsigned char *)data->d_buf + desc_off;

			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((const char *)data->d_buf + name_off, "GNU", 4))
				continue;
			for (size_t i = 0; i < nh.n_descsz && i < 20; i++)
				snprintf(f->build_id + 2 * i, 3, "%02x", d[i]);
			return;
		}
	}
}

static void read_debuglink(Elf *e, struct pi_elf_file *f)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(e, ".gnu_debuglink", &sh);
	Elf_Data *data;

	if (!scn || !(data = elf_getdata(scn, NULL)) || !data->d_size)
		return;
	f->debuglink = strndup(data->d_buf, data->d_size);
}

static int read_segments(Elf *e, struct pi_elf_file *f)
{
	size_t n;

	if (elf_getphdrnum(e, &n))
		return -EINVAL;
	if (n > PI_ELF_MAX_SEGS)
		n = PI_ELF_MAX_SEGS;
	f->segs = calloc(n ? n : 1, sizeof(*f->segs));
	if (!f->segs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, i, &ph))
			continue;
		if (ph.p_type == PT_INTERP && !f->interp && ph.p_filesz && ph.p_filesz < 4096) {
			size_t len;
			char *raw = elf_rawfile(e, &len);

			if (raw && ph.p_offset + ph.p_filesz <= len)
				f->interp = strndup(raw + ph.p_offset, ph.p_filesz);
			continue;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		f->segs[f->n_segs++] = (struct pi_elf_segment){
			.vaddr = ph.p_vaddr, .memsz = ph.p_memsz, .offset = ph.p_offset,
			.filesz = ph.p_filesz, .exec = ph.p_flags & PF_X,
		};
	}
	return 0;
}

static int load(const char *path, struct pi_elf_file *f, bool symbols_only)
{
	size_t cap = f->n_syms;
	int fd, err = 0;
	Elf *e;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto out;
	}
	if (!symbols_only) {
		GElf_Ehdr eh;

		if (!gelf_getehdr(e, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64) {
			err = -ENOEXEC;
			goto out;
		}
		f->machine = eh.e_machine;
		read_build_id(e, f);
		read_debuglink(e, f);
		if ((err = read_segments(e, f)) || (err = read_imports(e, f)))
			goto out;
		if (f->n_relative) /* qsort(NULL, 0) is undefined */
			qsort(f->relative, f->n_relative, sizeof(*f->relative), cmp_reloc);
	}
	if ((err = read_symtab(e, f, &cap, SHT_SYMTAB)) || (err = read_symtab(e, f, &cap, SHT_DYNSYM)))
		goto out;
out:
	if (e)
		elf_end(e);
	close(fd);
	return err;
}

int pi_elf_file__open(const char *path, const char *const *prefixes, struct pi_elf_file **out)
{
	struct pi_elf_file *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	f->prefixes = prefixes;
	f->path = strdup(path);
	if (!f->path) {
		free(f);
		return -ENOMEM;
	}
	err = load(path, f, false);
	if (err) {
		pi_elf_file__free(f);
		return err;
	}
	*out = f;
	return 0;
}

int pi_elf_file__add_debug_file(struct pi_elf_file *f, const char *debug_path)
{
	bool had = f->has_symtab;
	int err = load(debug_path, f, true);

	if (!err && !had && !f->has_symtab)
		return -ENOENT;
	return err;
}

static char *try_path(const char *p)
{
	return access(p, R_OK) == 0 ? strdup(p) : NULL;
}

char *pi_elf_file__find_debug_file(const struct pi_elf_file *f)
{
	char buf[8400], dir[4096];
	char *slash, *found;

	if (f->build_id[0]) {
		snprintf(buf, sizeof(buf), "/usr/lib/debug/.build-id/%.2s/%s.debug", f->build_id,
			 f->build_id + 2);
		if ((found = try_path(buf)))
			return found;
	}
	if (!f->debuglink || strchr(f->debuglink, '/'))
		return NULL;
	snprintf(dir, sizeof(dir), "%s", f->path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	snprintf(buf, sizeof(buf), "%s/%s", dir, f->debuglink);
	if (strcmp(buf, f->path) && (found = try_path(buf)))
		return found;
	snprintf(buf, sizeof(buf), "%s/.debug/%s", dir, f->debuglink);
	if ((found = try_path(buf)))
		return found;
	snprintf(buf, sizeof(buf), "/usr/lib/debug%s/%s", dir, f->debuglink);
	return try_path(buf);
}

void pi_elf_file__free(struct pi_elf_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_syms; i++)
		free(f->syms[i].name);
	for (size_t i = 0; i < f->n_imports; i++)
		free(f->imports[i].name);
	free(f->syms);
	free(f->imports);
	free(f->segs);
	free(f->relative);
	free(f->debuglink);
	free(f->interp);
	free(f->path);
	free(f);
}

const struct pi_elf_sym *pi_elf_file__find(const struct pi_elf_file *f, const char *name)
{
	for (size_t i = 0; i < f->n_syms; i++)
		if (f->syms[i].func && !strcmp(f->syms[i].name, name))
			return &f->syms[i];
	return NULL;
}

const struct pi_elf_sym *pi_elf_file__find_object(const struct pi_elf_file *f, const char *name)
{
	for (size_t i = 0; i < f->n_syms; i++)
		if (!f->syms[i].func && !strcmp(f->syms[i].name, name))
			return &f->syms[i];
	return NULL;
}

int pi_elf_file__interpreter(const struct pi_elf_file *f, char *buf, size_t len)
{
	if (!f->interp)
		return -ENOENT;
	snprintf(buf, len, "%s", f->interp);
	return 0;
}

int64_t pi_elf_file__file_offset(const struct pi_elf_file *f, uint64_t vaddr)
{
	for (size_t i = 0; i < f->n_segs; i++) {
		const struct pi_elf_segment *s = &f->segs[i];

		if (vaddr >= s->vaddr && vaddr < s->vaddr + s->filesz)
			return (int64_t)(vaddr - s->vaddr + s->offset);
	}
	return -1;
}

const char *pi_elf_file__name_at(const struct pi_elf_file *f, uint64_t vaddr)
{
	for (size_t i = 0; i < f->n_imports; i++)
		if (f->imports[i].vaddr == vaddr)
			return f->imports[i].name;
	for (size_t i = 0; i < f->n_syms; i++)
		if (f->syms[i].func && f->syms[i].vaddr == vaddr)
			return f->syms[i].name;
	return NULL;
}

int64_t pi_elf_file__offset_of(const struct pi_elf_file *f, uint64_t vaddr)
{
	for (size_t i = 0; i < f->n_segs; i++) {
		const struct pi_elf_segment *s = &f->segs[i];

		if (s->exec && vaddr >= s->vaddr && vaddr < s->vaddr + s->filesz)
			return (int64_t)(vaddr - s->vaddr + s->offset);
	}
	return -1;
}

static int pread_file(const struct pi_elf_file *f, int64_t off, void *buf, size_t len, size_t *got)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, off);
	close(fd);
	if (n < 0)
		return -EIO;
	*got = n;
	return 0;
}

int pi_elf_file__read_pointer(const struct pi_elf_file *f, uint64_t vaddr, uint64_t *out)
{
	struct pi_elf_reloc key = { vaddr, 0 }, *r;
	int64_t off;
	size_t got = 0;
	int err;

	r = f->n_relative ? bsearch(&key, f->relative, f->n_relative, sizeof(key), cmp_reloc) : NULL;
	if (r) {
		*out = r->addend;
		return 0;
	}
	if ((off = pi_elf_file__file_offset(f, vaddr)) < 0)
		return -ERANGE;
	if ((err = pread_file(f, off, out, sizeof(*out), &got)))
		return err;
	return got == sizeof(*out) ? 0 : -EIO;
}

int pi_elf_file__read_string(const struct pi_elf_file *f, uint64_t vaddr, char *buf, size_t len)
{
	int64_t off = pi_elf_file__file_offset(f, vaddr);
	size_t got = 0;
	int err;

	if (off < 0 || !len)
		return -ERANGE;
	if ((err = pread_file(f, off, buf, len - 1, &got)))
		return err;
	buf[got] = '\0';
	return strnlen(buf, len) < len ? 0 : -EINVAL;
}

int pi_elf_file__read_code(const struct pi_elf_file *f, uint64_t vaddr, void *buf, size_t len)
{
	int64_t off = pi_elf_file__offset_of(f, vaddr);
	size_t got = 0;
	int err;

	if (off < 0 || pi_elf_file__offset_of(f, vaddr + len - 1) < 0)
		return -ERANGE;
	if ((err = pread_file(f, off, buf, len, &got)))
		return err;
	return got == len ? 0 : -EIO;
}
