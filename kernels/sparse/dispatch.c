/* Family lists (one line per kernel, best first) and run-time selection from
 * the CPU features cpuinfo reports. The per-ISA libraries, built by
 * meson.build for the host architecture only, are only reached from here. */
#include <cpuinfo.h>
#include <pthread.h>

#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

#include "common/macros.h"
#include "kernels/sparse/sparse.h"
#include "kernels/sparse/sparse_internal.h"

static const sl_sparse_q8_impl q8_impls[] = {
#if defined(__x86_64__)
    {"avx512vnni", SL_SPARSE_ISA_AVX512VNNI | SL_SPARSE_ISA_AVX512 | SL_SPARSE_ISA_AVX2, SL_SPARSE_NEEDS_W8,
     sl_sparse_q8_avx512vnni, true, false, sl_sparse_q8_vnni_widest},
    {"avx512", SL_SPARSE_ISA_AVX512 | SL_SPARSE_ISA_AVX2, 0, sl_sparse_q8_avx512, true, false,
     sl_sparse_q8_avx512_widest},
    {"avx2", SL_SPARSE_ISA_AVX2, 0, sl_sparse_q8_avx2, true, false, NULL},
    {"sse41", SL_SPARSE_ISA_SSE41, 0, sl_sparse_q8_sse41, true, false, NULL},
#endif
#if defined(__aarch64__)
    {"neondot", SL_SPARSE_ISA_NEON | SL_SPARSE_ISA_NEON_DOT, SL_SPARSE_NEEDS_W8, sl_sparse_q8_neondot, true,
     true, NULL},
    {"neon", SL_SPARSE_ISA_NEON, SL_SPARSE_NEEDS_W8, sl_sparse_q8_neon, true, true, NULL},
#endif
    {"ref", 0, 0, sl_sparse_q8_ref, true, true, NULL},
};

static const sl_sparse_f32_impl f32_impls[] = {
#if defined(__x86_64__)
    {"avx512", SL_SPARSE_ISA_AVX512 | SL_SPARSE_ISA_AVX2, sl_sparse_f32_avx512},
    {"avx2", SL_SPARSE_ISA_AVX2, sl_sparse_f32_avx2},
    {"sse41", SL_SPARSE_ISA_SSE41, sl_sparse_f32_sse41},
#endif
#if defined(__aarch64__)
    {"neon", SL_SPARSE_ISA_NEON, sl_sparse_f32_neon},
#endif
    {"ref", 0, sl_sparse_f32_ref},
};

static unsigned cpu_isa;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void detect(void)
{
	unsigned isa = 0;
	if (cpuinfo_initialize()) {
#if defined(__x86_64__) || defined(__i386__)
		if (cpuinfo_has_x86_sse4_1())
			isa |= SL_SPARSE_ISA_SSE41;
		if (cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3())
			isa |= SL_SPARSE_ISA_AVX2;
		if (cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512dq() &&
		    cpuinfo_has_x86_avx512vl())
			isa |= SL_SPARSE_ISA_AVX512;
		if (cpuinfo_has_x86_avx512vnni())
			isa |= SL_SPARSE_ISA_AVX512VNNI;
#elif defined(__aarch64__)
		if (cpuinfo_has_arm_neon())
			isa |= SL_SPARSE_ISA_NEON;
		if (cpuinfo_has_arm_neon_dot())
			isa |= SL_SPARSE_ISA_NEON_DOT;
#endif
	} else {
		/* cpuinfo gives up when /proc/cpuinfo is not what it expects
		 * (containers, qemu-user); ask the compiler runtime / the kernel. */
#if defined(__x86_64__) || defined(__i386__)
		__builtin_cpu_init();
		if (__builtin_cpu_supports("sse4.1"))
			isa |= SL_SPARSE_ISA_SSE41;
		if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
			isa |= SL_SPARSE_ISA_AVX2;
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
			isa |= SL_SPARSE_ISA_AVX512;
		if (__builtin_cpu_supports("avx512vnni"))
			isa |= SL_SPARSE_ISA_AVX512VNNI;
#elif defined(__aarch64__)
		isa |= SL_SPARSE_ISA_NEON; /* mandatory in AArch64 */
		if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP)
			isa |= SL_SPARSE_ISA_NEON_DOT;
#endif
	}
	cpu_isa = isa;
}

unsigned sl_sparse_cpu_isa(void)
{
	pthread_once(&cpu_once, detect);
	return cpu_isa;
}

const sl_sparse_q8_impl *sl_sparse_q8_impls(size_t *ret_n)
{
	*ret_n = SL_ARRAY_SIZE(q8_impls);
	return q8_impls;
}

const sl_sparse_f32_impl *sl_sparse_f32_impls(size_t *ret_n)
{
	*ret_n = SL_ARRAY_SIZE(f32_impls);
	return f32_impls;
}

bool sl_sparse_q8_usable(const sl_sparse_q8_impl *impl, const sl_sparse_q8 *p)
{
	if ((impl->isa & sl_sparse_cpu_isa()) != impl->isa)
		return false;
	if (p && p->rq == SL_SPARSE_RQ_FP32 && !impl->fp32_requant)
		return false;
	if (p && p->rq == SL_SPARSE_RQ_RNDNU && !impl->rndnu_requant)
		return false;
	return !p || !(impl->needs & SL_SPARSE_NEEDS_W8) || p->w8;
}

bool sl_sparse_q8_fp32_requant_here(void)
{
	return sl_sparse_q8_select(NULL)->fp32_requant;
}

bool sl_sparse_q8_rndnu_requant_here(void)
{
	return sl_sparse_q8_select(NULL)->rndnu_requant;
}

unsigned sl_sparse_q8_pack_flags(void)
{
	const unsigned isa = sl_sparse_cpu_isa();
	for (size_t i = 0; i < SL_ARRAY_SIZE(q8_impls); i++)
		if ((q8_impls[i].isa & isa) == q8_impls[i].isa)
			return (q8_impls[i].needs & SL_SPARSE_NEEDS_W8) ? SL_SPARSE_PACK_W8 : 0;
	return 0;
}

const sl_sparse_q8_impl *sl_sparse_q8_select(const sl_sparse_q8 *p)
{
	for (size_t i = 0; i < SL_ARRAY_SIZE(q8_impls); i++)
		if (sl_sparse_q8_usable(&q8_impls[i], p))
			return &q8_impls[i];
	return &q8_impls[SL_ARRAY_SIZE(q8_impls) - 1];
}

const sl_sparse_f32_impl *sl_sparse_f32_select(void)
{
	const unsigned isa = sl_sparse_cpu_isa();
	for (size_t i = 0; i < SL_ARRAY_SIZE(f32_impls); i++)
		if ((f32_impls[i].isa & isa) == f32_impls[i].isa)
			return &f32_impls[i];
	return &f32_impls[SL_ARRAY_SIZE(f32_impls) - 1];
}
