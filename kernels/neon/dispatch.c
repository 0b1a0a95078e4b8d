/* Family lists (one line per kernel, best first) and run-time selection from
 * the CPU features. The per-ISA libraries exist only in aarch64 builds. */
#include <cpuinfo.h>
#include <pthread.h>

#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

#include "common/macros.h"
#include "kernels/neon/neon.h"
#include "kernels/neon/neon_kernels.h"

#if defined(__aarch64__)
static const sl_neon_gemm_impl gemm_impls[] = {
    {"sdot 8x8", SL_NEON_ISA_NEON | SL_NEON_ISA_DOT, SL_NEON_LAYOUT_DOT_8, SL_NEON_GEMM_MR_DOT,
     sl_neon_gemm_sdot_8x8},
    {"smlal 4x4", SL_NEON_ISA_NEON, SL_NEON_LAYOUT_C16_4, SL_NEON_GEMM_MR_C16, sl_neon_gemm_smlal_4x4},
};

static const sl_neon_dw_impl dw_impls[] = {
    {"dw 3x3 smlal8", SL_NEON_ISA_NEON, SL_NEON_DW_NEEDS_FAST | SL_NEON_DW_NEEDS_3X3, sl_neon_dw_3x3_smlal8},
    {"dw smlal8", SL_NEON_ISA_NEON, SL_NEON_DW_NEEDS_FAST, sl_neon_dw_any_smlal8},
    {"dw smlal16", SL_NEON_ISA_NEON, 0, sl_neon_dw_any_smlal16},
};
#else
/* Zero-length arrays are not C: one placeholder the accessors hide. */
static const sl_neon_gemm_impl gemm_impls[1];
static const sl_neon_dw_impl dw_impls[1];
#endif

static unsigned cpu_isa;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void detect(void)
{
#if defined(__aarch64__)
	unsigned isa = SL_NEON_ISA_NEON; /* mandatory in AArch64 */
	/* cpuinfo gives up where /proc/cpuinfo is not what it expects (some
	 * containers, qemu-user): the kernel's hwcaps say the same. */
	if ((cpuinfo_initialize() && cpuinfo_has_arm_neon_dot()) || (getauxval(AT_HWCAP) & HWCAP_ASIMDDP))
		isa |= SL_NEON_ISA_DOT;
	cpu_isa = isa;
#else
	cpu_isa = 0;
#endif
}

unsigned sl_neon_cpu_isa(void)
{
	pthread_once(&cpu_once, detect);
	return cpu_isa;
}

const sl_neon_gemm_impl *sl_neon_gemm_impls(size_t *ret_n)
{
#if defined(__aarch64__)
	*ret_n = SL_ARRAY_SIZE(gemm_impls);
#else
	*ret_n = 0;
#endif
	return gemm_impls;
}

const sl_neon_dw_impl *sl_neon_dw_impls(size_t *ret_n)
{
#if defined(__aarch64__)
	*ret_n = SL_ARRAY_SIZE(dw_impls);
#else
	*ret_n = 0;
#endif
	return dw_impls;
}

const sl_neon_gemm_impl *sl_neon_gemm_select(void)
{
	size_t n;
	const sl_neon_gemm_impl *l = sl_neon_gemm_impls(&n);
	const unsigned isa = sl_neon_cpu_isa();
	for (size_t i = 0; i < n; i++)
		if ((l[i].isa & isa) == l[i].isa)
			return &l[i];
	return NULL;
}

bool sl_neon_dw_usable(const sl_neon_dw_impl *impl, const sl_neon_dw *p, int filter_h, int filter_w)
{
	if ((impl->needs & SL_NEON_DW_NEEDS_FAST) && !p->fast)
		return false;
	if ((impl->needs & SL_NEON_DW_NEEDS_3X3) && (filter_h != 3 || filter_w != 3))
		return false;
	return true;
}

const sl_neon_dw_impl *sl_neon_dw_select(const sl_neon_dw *p, int filter_h, int filter_w)
{
	size_t n;
	const sl_neon_dw_impl *l = sl_neon_dw_impls(&n);
	const unsigned isa = sl_neon_cpu_isa();
	for (size_t i = 0; i < n; i++)
		if ((l[i].isa & isa) == l[i].isa && sl_neon_dw_usable(&l[i], p, filter_h, filter_w))
			return &l[i];
	return NULL;
}
