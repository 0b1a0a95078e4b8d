/* Family lists (one line per kernel, best first) and run-time selection from
 * the CPU features. The per-ISA libraries exist in aarch64 (NEON) and x86-64
 * (AVX2, AVX-512 VNNI) builds. */
#include <cpuinfo.h>
#include <pthread.h>

#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

#include "common/macros.h"
#include "kernels/dense/dense.h"
#include "kernels/dense/dense_kernels.h"

#if defined(__aarch64__)
static const sl_dense_gemm_impl gemm_impls[] = {
    {"sdot 8x8", SL_DENSE_ISA_NEON | SL_DENSE_ISA_DOT, SL_DENSE_LAYOUT_DOT_8, SL_DENSE_GEMM_MR_DOT,
     sl_dense_gemm_sdot_8x8, NULL},
    {"smlal 4x4", SL_DENSE_ISA_NEON, SL_DENSE_LAYOUT_C16_4, SL_DENSE_GEMM_MR_C16, sl_dense_gemm_smlal_4x4,
     NULL},
};

static const sl_dense_dw_impl dw_impls[] = {
    {"dw 3x3s1 smlal8", SL_DENSE_ISA_NEON,
     SL_DENSE_DW_NEEDS_FAST | SL_DENSE_DW_NEEDS_3X3 | SL_DENSE_DW_NEEDS_S1, sl_dense_dw_3x3s1_smlal8},
    {"dw 3x3 smlal8", SL_DENSE_ISA_NEON, SL_DENSE_DW_NEEDS_FAST | SL_DENSE_DW_NEEDS_3X3,
     sl_dense_dw_3x3_smlal8},
    {"dw 3x3 smlal16", SL_DENSE_ISA_NEON, SL_DENSE_DW_NEEDS_3X3, sl_dense_dw_3x3_smlal16},
    {"dw smlal8", SL_DENSE_ISA_NEON, SL_DENSE_DW_NEEDS_FAST, sl_dense_dw_any_smlal8},
    {"dw smlal16", SL_DENSE_ISA_NEON, 0, sl_dense_dw_any_smlal16},
};
#elif defined(__x86_64__)
static const sl_dense_gemm_impl gemm_impls[] = {
    {"avx512vnni 8x32", SL_DENSE_ISA_AVX2 | SL_DENSE_ISA_AVX512VNNI, SL_DENSE_LAYOUT_VNNI_16,
     SL_DENSE_GEMM_MR_VNNI, sl_dense_gemm_avx512vnni_16, NULL},
    {"avx2 6x16", SL_DENSE_ISA_AVX2, SL_DENSE_LAYOUT_W16_16, SL_DENSE_GEMM_MR_AVX2, sl_dense_gemm_avx2_w16,
     sl_dense_widen_avx2},
};

static const sl_dense_dw_impl dw_impls[] = {
    {"dw 3x3s1 avx512vnni", SL_DENSE_ISA_AVX2 | SL_DENSE_ISA_AVX512VNNI,
     SL_DENSE_DW_NEEDS_3X3 | SL_DENSE_DW_NEEDS_S1, sl_dense_dw_3x3s1_avx512vnni},
    {"dw 3x3 avx512vnni", SL_DENSE_ISA_AVX2 | SL_DENSE_ISA_AVX512VNNI, SL_DENSE_DW_NEEDS_3X3,
     sl_dense_dw_3x3_avx512vnni},
    {"dw avx512vnni", SL_DENSE_ISA_AVX2 | SL_DENSE_ISA_AVX512VNNI, 0, sl_dense_dw_any_avx512vnni},
    {"dw 3x3s1 avx2", SL_DENSE_ISA_AVX2, SL_DENSE_DW_NEEDS_3X3 | SL_DENSE_DW_NEEDS_S1,
     sl_dense_dw_3x3s1_avx2},
    {"dw 3x3 avx2", SL_DENSE_ISA_AVX2, SL_DENSE_DW_NEEDS_3X3, sl_dense_dw_3x3_avx2},
    {"dw avx2", SL_DENSE_ISA_AVX2, 0, sl_dense_dw_any_avx2},
};
#define SL_DENSE_HAVE_LISTS 1
#endif
#if defined(__aarch64__)
#define SL_DENSE_HAVE_LISTS 1
#endif
#ifndef SL_DENSE_HAVE_LISTS
/* Zero-length arrays are not C: one placeholder the accessors hide. */
static const sl_dense_gemm_impl gemm_impls[1];
static const sl_dense_dw_impl dw_impls[1];
#endif

static const sl_dense_add_impl add_impls[] = {
#if defined(__aarch64__)
    {"add neon", SL_DENSE_ISA_NEON, sl_dense_add_neon},
#endif
#if defined(__x86_64__)
    {"add avx2", SL_DENSE_ISA_AVX2, sl_dense_add_avx2},
#endif
    {"add scalar", 0, sl_dense_add_scalar},
};

static unsigned cpu_isa;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#if defined(__aarch64__)
	unsigned isa = SL_DENSE_ISA_NEON; /* mandatory in AArch64 */
	/* cpuinfo gives up where /proc/cpuinfo is not what it expects (some
	 * containers, qemu-user): the kernel's hwcaps say the same. */
	if ((cpuinfo_initialize() && cpuinfo_has_arm_neon_dot()) || (getauxval(AT_HWCAP) & HWCAP_ASIMDDP))
		isa |= SL_DENSE_ISA_DOT;
	cpu_isa = isa;
#elif defined(__x86_64__)
	unsigned isa = 0;
	if (cpuinfo_initialize() && cpuinfo_has_x86_avx2()) {
		isa |= SL_DENSE_ISA_AVX2;
		if (cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512dq() &&
		    cpuinfo_has_x86_avx512vl() && cpuinfo_has_x86_avx512vnni())
			isa |= SL_DENSE_ISA_AVX512VNNI;
	}
	cpu_isa = isa;
#else
	cpu_isa = 0;
#endif
}

unsigned sl_dense_cpu_isa(void)
{
	pthread_once(&cpu_once, detect);
	return cpu_isa;
}

const sl_dense_gemm_impl *sl_dense_gemm_impls(size_t *ret_n)
{
#if defined(SL_DENSE_HAVE_LISTS)
	*ret_n = SL_ARRAY_SIZE(gemm_impls);
#else
	*ret_n = 0;
#endif
	return gemm_impls;
}

const sl_dense_dw_impl *sl_dense_dw_impls(size_t *ret_n)
{
#if defined(SL_DENSE_HAVE_LISTS)
	*ret_n = SL_ARRAY_SIZE(dw_impls);
#else
	*ret_n = 0;
#endif
	return dw_impls;
}

const sl_dense_gemm_impl *sl_dense_gemm_select(void)
{
	size_t n;
	const sl_dense_gemm_impl *l = sl_dense_gemm_impls(&n);
	const unsigned isa = sl_dense_cpu_isa();
	for (size_t i = 0; i < n; i++)
		if ((l[i].isa & isa) == l[i].isa)
			return &l[i];
	return NULL;
}

bool sl_dense_dw_usable(const sl_dense_dw_impl *impl, const sl_dense_dw *p, const sl_ref_conv_geom *g)
{
	if ((impl->needs & SL_DENSE_DW_NEEDS_FAST) && !p->fast)
		return false;
	if ((impl->needs & SL_DENSE_DW_NEEDS_3X3) && (g->filter_h != 3 || g->filter_w != 3))
		return false;
	if ((impl->needs & SL_DENSE_DW_NEEDS_S1) && (g->stride_w != 1 || g->dilation_w != 1))
		return false;
	return true;
}

const sl_dense_dw_impl *sl_dense_dw_select(const sl_dense_dw *p, const sl_ref_conv_geom *g)
{
	size_t n;
	const sl_dense_dw_impl *l = sl_dense_dw_impls(&n);
	const unsigned isa = sl_dense_cpu_isa();
	for (size_t i = 0; i < n; i++)
		if ((l[i].isa & isa) == l[i].isa && sl_dense_dw_usable(&l[i], p, g))
			return &l[i];
	return NULL;
}

const sl_dense_add_impl *sl_dense_add_impls(size_t *ret_n)
{
	*ret_n = SL_ARRAY_SIZE(add_impls);
	return add_impls;
}

const sl_dense_add_impl *sl_dense_add_select(void)
{
	const unsigned isa = sl_dense_cpu_isa();
	for (size_t i = 0; i < SL_ARRAY_SIZE(add_impls); i++)
		if ((add_impls[i].isa & isa) == add_impls[i].isa)
			return &add_impls[i];
	return NULL;
}
