// SPDX-License-Identifier: MIT
/// @file sal.h
/// Microsoft's source-code annotation language for IIS modules built on Linux (target `w3tp::iis`): every
/// annotation that IIS's httpserv.h and the module samples use, defined to nothing. They only inform
/// Microsoft's static analysis; no compiler here reads them.
#ifndef W3TP_IIS_SAL_H
#define W3TP_IIS_SAL_H

// SAL 2 (annotations with a leading underscore).
#define _In_
#define _In_opt_
#define _In_z_
#define _In_opt_z_
#define _In_reads_(n)
#define _In_reads_opt_(n)
#define _In_reads_bytes_(n)
#define _In_reads_bytes_opt_(n)
#define _Out_
#define _Out_opt_
#define _Out_writes_(n)
#define _Out_writes_opt_(n)
#define _Out_writes_bytes_(n)
#define _Out_writes_bytes_opt_(n)
#define _Out_writes_to_(n, c)
#define _Out_writes_bytes_to_(n, c)
#define _Inout_
#define _Inout_opt_
#define _Inout_z_
#define _Inout_updates_(n)
#define _Inout_updates_bytes_(n)
#define _Outptr_
#define _Outptr_opt_
#define _Outptr_result_maybenull_
#define _Outptr_opt_result_maybenull_
#define _Ret_maybenull_
#define _Ret_notnull_
#define _Ret_z_
#define _Must_inspect_result_
#define _Check_return_
#define _Success_(expr)
#define _Field_size_(n)
#define _Field_size_bytes_(n)
#define _Printf_format_string_
#define _Pre_
#define _Post_
#define _Null_terminated_
#define _Reserved_
#define _When_(expr, annotes)
#define _Use_decl_annotations_
#define _Analysis_assume_(expr)

// SAL 1 (annotations with two leading underscores) that take an argument, as httpserv.h uses them. SAL 1's
// plain words (__in, __out, __inout, ...) are left undefined on purpose: libstdc++ uses those names for
// its own parameters, and defining them breaks any standard header included after this one.
#define __in_bcount(n)
#define __in_bcount_opt(n)
#define __in_ecount(n)
#define __in_ecount_opt(n)
#define __out_bcount(n)
#define __out_bcount_opt(n)
#define __out_ecount(n)
#define __out_ecount_opt(n)
#define __inout_bcount(n)
#define __inout_ecount(n)
#define __deref_out_ecount(n)
#define __deref_out_bcount(n)
#define __bcount(n)
#define __ecount(n)

#endif  // W3TP_IIS_SAL_H
