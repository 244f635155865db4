// SPDX-License-Identifier: GPL-2.0
/*
 * Which imported callables are dangerous, after picklescan's lists
 * (mmaitre314/picklescan, src/picklescan/scanner.py: _unsafe_globals,
 * _safe_globals) and modelscan's, with the Python 3 names of their Python 2
 * entries and a few more that load a second pickle or build code.
 */
#include <string.h>

#include "core/util.h"
#include "inventory/pickle_scan.h"

/* Every callable of these modules (and their submodules). */
static const char *const unsafe_modules[] = {
    "os",
    "posix",
    "nt",
    "subprocess",
    "_posixsubprocess",
    "sys",
    "socket",
    "_socket",
    "ssl",
    "shutil",
    "runpy",
    "webbrowser",
    "pty",
    "pickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "marshal",
    "types",
    "pdb",
    "bdb",
    "asyncio",
    "aiohttp",
    "commands",
    "ctypes",
    "_ctypes",
    "httplib",
    "http.client",
    "urllib.request",
    "requests",
    "pip",
    "pydoc",
    "timeit",
    "venv",
    "ensurepip",
    "importlib",
    "imp",
    "code",
    "codeop",
    "idlelib",
    "multiprocessing",
    "numpy.f2py",
    "distutils.file_util",
    "numpy.testing._private.utils",
    "torch.utils.bottleneck.__main__",
};

/* These callables only. */
static const char *const unsafe_names[] = {
    "builtins.eval",
    "builtins.exec",
    "builtins.execfile",
    "builtins.compile",
    "builtins.open",
    "builtins.getattr",
    "builtins.setattr",
    "builtins.delattr",
    "builtins.__import__",
    "builtins.apply",
    "builtins.breakpoint",
    "builtins.input",
    "builtins.globals",
    "builtins.locals",
    "builtins.vars",
    "io.open",
    "io.open_code",
    "io.FileIO",
    "_io.open",
    "_io.open_code",
    "_io.FileIO",
    "functools.partial",
    "functools.reduce",
    "operator.attrgetter",
    "operator.itemgetter",
    "operator.methodcaller",
    "cProfile.run",
    "cProfile.runctx",
    "profile.Profile.run",
    "profile.Profile.runctx",
    "doctest.debug_script",
    "trace.Trace.run",
    "trace.Trace.runctx",
    "lib2to3.pgen2.grammar.Grammar.loads",
    "lib2to3.pgen2.pgen.ParserGenerator.make_label",
    "numpy.load",
    "joblib.load",
    "pandas.read_pickle",
    "torch.load",
    "torch.serialization.load",
    "torch._inductor.codecache.compile_file",
    "torch.jit.unsupported_tensor_ops.execWrapper",
    "torch.utils.collect_env.run",
    "torch._dynamo.guards.GuardBuilder.get",
    "torch.fx.experimental.symbolic_shapes.ShapeEnv.evaluate_guards_expression",
    "torch.utils._config_module.ConfigModule.load_config",
    "torch.utils.data.datapipes.utils.decoder.basichandlers",
};

/* What benign checkpoints import: torch's and numpy's reconstructors. */
static const char *const safe_names[] = {
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._tensor._rebuild_from_type_v2",
    "torch.Size",
    "torch.device",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "torch.FloatStorage",
    "torch.DoubleStorage",
    "torch.HalfStorage",
    "torch.BFloat16Storage",
    "torch.LongStorage",
    "torch.IntStorage",
    "torch.ShortStorage",
    "torch.CharStorage",
    "torch.ByteStorage",
    "torch.BoolStorage",
    "torch.ComplexFloatStorage",
    "torch.ComplexDoubleStorage",
    "torch.QUInt8Storage",
    "torch.QInt8Storage",
    "torch.QInt32Storage",
    "torch.QUInt4x2Storage",
    "torch.QUInt2x4Storage",
    "torch.float16",
    "torch.bfloat16",
    "torch.float32",
    "torch.float64",
    "torch.int8",
    "torch.uint8",
    "torch.int16",
    "torch.int32",
    "torch.int64",
    "torch.bool",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "_codecs.encode", /* how protocol 2 carries bytes: str -> latin-1 bytes */
};

/* Python 2 module names the unpickler maps to Python 3's (_compat_pickle). */
static const struct {
	const char *py2, *py3;
} renames[] = {
    {"__builtin__", "builtins"},
    {"copy_reg", "copyreg"},
    {"cPickle", "pickle"},
    {"exceptions", "builtins"},
};

static bool in_list(const char *const *list, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && !memcmp(list[i], s, len))
			return true;
	return false;
}

/* Is path[0, len) an unsafe module, the submodule of one, or an unsafe callable? */
static bool unsafe_path(const char *path, size_t len)
{
	if (in_list(unsafe_names, ARRAY_SIZE(unsafe_names), path, len))
		return true;
	for (size_t k = 1; k <= len; k++)
		if ((k == len || path[k] == '.') &&
		    in_list(unsafe_modules, ARRAY_SIZE(unsafe_modules), path, k))
			return true;
	return false;
}

/*
 * name may be dotted (protocol 4 walks attributes: "serialization.os.system"
 * from module "torch"): then also dangerous when the attributes reach an
 * unsafe module or callable from any of its components, or go through a
 * dunder (__globals__, __builtins__, __subclasses__ ...).
 */
static bool unsafe_full(const char *full, size_t mlen)
{
	size_t len = strlen(full);
	const char *name = full + mlen + 1;

	if (unsafe_path(full, len))
		return true;
	if (!strchr(name, '.'))
		return false;
	if (strstr(name, "__"))
		return true;
	for (const char *p = name; p; p = strchr(p + 1, '.')) {
		const char *start = *p == '.' ? p + 1 : p;
		if (unsafe_path(start, len - (size_t)(start - full)))
			return true;
	}
	return false;
}

enum pickle_class pickle_classify(const char *module, const char *name)
{
	char full[2 * PICKLE_STR_MAX + 2];

	if (strlen(module) > PICKLE_STR_MAX || strlen(name) > PICKLE_STR_MAX)
		return PICKLE_DANGEROUS; /* no real import is that long */
	for (size_t i = 0; i < ARRAY_SIZE(renames); i++)
		if (!strcmp(module, renames[i].py2))
			module = renames[i].py3;
	if (!*module || !*name || !strcmp(module, "?"))
		return PICKLE_DANGEROUS; /* an import the walk could not name */
	snprintf(full, sizeof(full), "%s.%s", module, name);
	if (unsafe_full(full, strlen(module)))
		return PICKLE_DANGEROUS;
	if (in_list(safe_names, ARRAY_SIZE(safe_names), full, strlen(full)))
		return PICKLE_SAFE;
	return PICKLE_UNKNOWN;
}

const char *pickle_class_name(enum pickle_class cls)
{
	switch (cls) {
	case PICKLE_SAFE:
		return "safe";
	case PICKLE_DANGEROUS:
		return "dangerous";
	default:
		return "unknown";
	}
}
