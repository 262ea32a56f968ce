# lit configuration for kiln's FileCheck tests: runs kiln-opt over tests/lit.
import os

import lit.formats
import lit.util

config.name = "kiln"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = getattr(config, "kiln_test_exec_root", config.test_source_root)

# kiln-opt comes from the build; FileCheck and not from LLVM 19.
tools_dir = getattr(config, "kiln_tools_dir", None)
if not tools_dir:
    lit_config.fatal("kiln_tools_dir is unset: run lit on the build's tests/lit directory")
llvm_tools_dir = getattr(config, "llvm_tools_dir", "/usr/lib/llvm-19/bin")
for tool in ("FileCheck", "not"):
    if not os.path.exists(os.path.join(llvm_tools_dir, tool)):
        lit_config.fatal(f"{tool} not found in {llvm_tools_dir}")
if not os.path.exists(os.path.join(tools_dir, "kiln-opt")):
    lit_config.fatal(f"kiln-opt not found in {tools_dir}: build it first")
config.environment["PATH"] = os.pathsep.join(
    [tools_dir, llvm_tools_dir, config.environment.get("PATH", "")])
