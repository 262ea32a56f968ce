// LLVM-dialect modules to optimised object code, and object code to callable
// functions through ORC's LLJIT.
#include "ObjectCode.h"

#include "kiln/Compiler/Passes.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Parallel.h"

#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"

#include <cstdlib>
#include <fstream>
#include <mutex>

namespace kiln {

namespace {

std::string errorText(llvm::Error error) {
  std::string text;
  llvm::raw_string_ostream stream(text);
  stream << error;
  return text;
}

// The host as LLVM describes it, created once.
struct HostTarget {
  llvm::orc::JITTargetMachineBuilder builder{llvm::Triple()};
  std::unique_ptr<llvm::TargetMachine> machine;
  std::string cpu, features;
};

HostTarget &host() {
  static HostTarget target = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    // KILN_LLVM_ARGS passes options to LLVM, e.g. -pass-remarks=loop-vectorize.
    const char *argv[] = {"kiln"};
    llvm::cl::ParseCommandLineOptions(1, argv, "", nullptr, "KILN_LLVM_ARGS");
    HostTarget t;
    auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!builder)
      throw Error("cannot describe this CPU to LLVM: " +
                  errorText(builder.takeError()));
    t.builder = std::move(*builder);
    t.builder.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
    t.builder.setRelocationModel(llvm::Reloc::PIC_);
    auto machine = t.builder.createTargetMachine();
    if (!machine)
      throw Error("LLVM has no code generator for this CPU: " +
                  errorText(machine.takeError()));
    t.machine = std::move(*machine);
    t.cpu = t.builder.getCPU();
    t.features = t.builder.getFeatures().getString();
    return t;
  }();
  return target;
}

// `_kiln_<name>(void **args)` calls `name` with *args[i] as argument i: the
// packed convention Program uses, one signature for every entry point.
void addPackedWrapper(llvm::Module &module, llvm::Function &function,
                      const std::string &prefix) {
  // Inlining the program into its wrapper would only compile it twice.
  function.addFnAttr(llvm::Attribute::NoInline);
  llvm::LLVMContext &context = module.getContext();
  auto *pointer = llvm::PointerType::getUnqual(context);
  auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(context),
                                       {pointer}, /*isVarArg=*/false);
  auto *wrapper =
      llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage,
                             prefix + function.getName(), module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", wrapper));
  llvm::SmallVector<llvm::Value *> arguments;
  for (unsigned i = 0; i < function.arg_size(); ++i) {
    llvm::Value *slot = b.CreateConstGEP1_64(pointer, wrapper->getArg(0), i);
    llvm::Value *address = b.CreateLoad(pointer, slot);
    arguments.push_back(b.CreateLoad(function.getArg(i)->getType(), address));
  }
  b.CreateCall(&function, arguments);
  b.CreateRetVoid();
}

// Every call of an outlined parallel loop body `kiln.parallel.*(captures...,
// begin, end)` becomes kiln_parallel_for(task, frame, begin, end): the
// captures are stored in a stack frame, and `task(frame, begin, end)` loads
// them and calls the body on the range the runtime gives it.
void distributeParallelLoops(llvm::Module &module) {
  llvm::LLVMContext &context = module.getContext();
  auto *pointer = llvm::PointerType::getUnqual(context);
  auto *i64 = llvm::Type::getInt64Ty(context);
  auto *voidType = llvm::Type::getVoidTy(context);
  auto *taskType =
      llvm::FunctionType::get(voidType, {pointer, i64, i64}, false);
  llvm::FunctionCallee parallelFor = module.getOrInsertFunction(
      "kiln_parallel_for",
      llvm::FunctionType::get(voidType, {pointer, pointer, i64, i64}, false));
  llvm::SmallVector<llvm::Function *> bodies;
  for (llvm::Function &function : module) {
    if (!function.isDeclaration() &&
        function.getName().starts_with(kParallelPrefix))
      bodies.push_back(&function);
  }
  for (llvm::Function *body : bodies) {
    // Only reached through its task: two AOT objects' bodies share names.
    body->setLinkage(llvm::GlobalValue::InternalLinkage);
    unsigned captured = body->arg_size() - 2;
    llvm::SmallVector<llvm::Type *> fields;
    for (unsigned i = 0; i < captured; ++i)
      fields.push_back(body->getArg(i)->getType());
    auto *frameType = llvm::StructType::get(context, fields);
    auto *task =
        llvm::Function::Create(taskType, llvm::GlobalValue::InternalLinkage,
                               body->getName() + ".task", module);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", task));
    llvm::SmallVector<llvm::Value *> arguments;
    for (unsigned i = 0; i < captured; ++i)
      arguments.push_back(b.CreateLoad(
          fields[i], b.CreateStructGEP(frameType, task->getArg(0), i)));
    arguments.push_back(task->getArg(1));
    arguments.push_back(task->getArg(2));
    llvm::CallInst *inner = b.CreateCall(body, arguments);
    b.CreateRetVoid();
    for (llvm::User *user : llvm::make_early_inc_range(body->users())) {
      auto *call = llvm::dyn_cast<llvm::CallInst>(user);
      if (!call || call == inner)
        continue;
      llvm::Function *caller = call->getFunction();
      llvm::IRBuilder<> entry(&caller->getEntryBlock(),
                              caller->getEntryBlock().begin());
      llvm::Value *frame = entry.CreateAlloca(frameType);
      llvm::IRBuilder<> at(call);
      for (unsigned i = 0; i < captured; ++i)
        at.CreateStore(call->getArgOperand(i),
                       at.CreateStructGEP(frameType, frame, i));
      at.CreateCall(parallelFor, {task, frame, call->getArgOperand(captured),
                                  call->getArgOperand(captured + 1)});
      call->eraseFromParent();
    }
  }
}

// LLVM's -O3 pipeline with loop and SLP vectorisation for the host CPU.
void optimize(llvm::Module &module, HostTarget &target) {
  // The vectoriser's cost model reads the CPU from each function.
  for (llvm::Function &function : module) {
    if (function.isDeclaration())
      continue;
    function.addFnAttr("target-cpu", target.cpu);
    function.addFnAttr("target-features", target.features);
  }
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgscc;
  llvm::ModuleAnalysisManager modules;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = true;
  tuning.LoopInterleaving = true;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  llvm::PassBuilder builder(target.machine.get(), tuning);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3)
      .run(module, modules);
}

// A target for another CPU of the host's architecture (e.g. x86-64-v2),
// with that CPU's own features rather than this machine's.
HostTarget otherCpu(const std::string &cpu) {
  HostTarget &native = host();
  // Checked before building the target, which would warn on stderr.
  std::string triple = native.builder.getTargetTriple().str(), error;
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(triple, error);
  std::unique_ptr<llvm::MCSubtargetInfo> info(
      llvmTarget ? llvmTarget->createMCSubtargetInfo(triple, "", "") : nullptr);
  if (!info || !info->isCPUStringValid(cpu))
    throw Error("'" + cpu + "' is not a CPU LLVM knows for " + triple +
                "; try x86-64, x86-64-v2, x86-64-v3, x86-64-v4 or a name "
                "such as skylake or znver3");
  HostTarget t;
  t.builder =
      llvm::orc::JITTargetMachineBuilder(native.builder.getTargetTriple());
  t.builder.setCPU(cpu);
  t.builder.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  t.builder.setRelocationModel(llvm::Reloc::PIC_);
  auto machine = t.builder.createTargetMachine();
  if (!machine)
    throw Error("LLVM cannot generate code for CPU '" + cpu +
                "': " + errorText(machine.takeError()));
  t.machine = std::move(*machine);
  t.cpu = cpu;
  return t;
}

} // namespace

std::string hostTargetDescription() {
  HostTarget &target = host();
  return target.builder.getTargetTriple().str() + " " + target.cpu + " " +
         target.features;
}

std::string
compileToObject(mlir::ModuleOp module, const std::vector<EntryPoint> &entries,
                const std::string &prefix, bool embedEntries,
                const std::string &cpu,
                const std::vector<std::pair<std::string, std::string>> &data) {
  HostTarget other;
  if (!cpu.empty())
    other = otherCpu(cpu);
  HostTarget &target = cpu.empty() ? host() : other;
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, context, "kiln");
  if (!llvmModule)
    throw Error("could not translate the program to LLVM IR; this is a bug "
                "in kiln, please report it with the model");
  llvmModule->setTargetTriple(target.builder.getTargetTriple().str());
  llvmModule->setDataLayout(target.machine->createDataLayout());
  for (const EntryPoint &entry : entries) {
    llvm::Function *function = llvmModule->getFunction(entry.name);
    if (!function)
      throw Error("the compiled program has no function '" + entry.name + "'");
    addPackedWrapper(*llvmModule, *function, prefix);
    // Only the wrappers are the object's interface; unexported bodies also
    // keep AOT bundles of two models from clashing.
    function->setLinkage(llvm::GlobalValue::InternalLinkage);
  }
  if (embedEntries) {
    llvm::Constant *text = llvm::ConstantDataArray::getString(
        context, formatEntryPoints(entries), /*AddNull=*/true);
    new llvm::GlobalVariable(*llvmModule, text->getType(), /*isConstant=*/true,
                             llvm::GlobalValue::ExternalLinkage, text,
                             prefix + "entries");
  }
  for (const auto &[name, bytes] : data) {
    llvm::Constant *array = llvm::ConstantDataArray::get(
        context,
        llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(bytes.data()),
                                bytes.size()));
    new llvm::GlobalVariable(*llvmModule, array->getType(), /*isConstant=*/true,
                             llvm::GlobalValue::ExternalLinkage, array,
                             prefix + name);
    llvm::Constant *size = llvm::ConstantInt::get(
        llvm::Type::getInt64Ty(context), static_cast<uint64_t>(bytes.size()));
    new llvm::GlobalVariable(*llvmModule, size->getType(), /*isConstant=*/true,
                             llvm::GlobalValue::ExternalLinkage, size,
                             prefix + name + "_size");
  }
  distributeParallelLoops(*llvmModule);
  optimize(*llvmModule, target);
  if (const char *path = std::getenv("KILN_DUMP_LLVM")) {
    std::error_code error;
    llvm::raw_fd_ostream out(path, error);
    llvmModule->print(out, nullptr);
  }

  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream stream(buffer);
  llvm::legacy::PassManager codegen;
  if (target.machine->addPassesToEmitFile(codegen, stream, nullptr,
                                          llvm::CodeGenFileType::ObjectFile))
    throw Error("LLVM cannot emit object files for this CPU");
  codegen.run(*llvmModule);
  std::string object(buffer.begin(), buffer.end());
  if (const char *path = std::getenv("KILN_DUMP_OBJECT"))
    std::ofstream(path, std::ios::binary) << object;
  return object;
}

std::shared_ptr<void> loadObject(const std::string &object,
                                 std::vector<EntryPoint> &entries,
                                 const std::string &prefix) {
  HostTarget &target = host();
  auto jit = llvm::orc::LLJITBuilder()
                 .setJITTargetMachineBuilder(target.builder)
                 .create();
  if (!jit)
    throw Error("cannot start LLVM's JIT: " + errorText(jit.takeError()));
  // Generated code calls libm (expf, logf, powf) from this process.
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process)
    throw Error("cannot search this process for symbols: " +
                errorText(process.takeError()));
  llvm::orc::JITDylib &dylib = (*jit)->getMainJITDylib();
  dylib.addGenerator(std::move(*process));
  // The thread pool lives in kiln_runtime, linked into this process, but
  // not necessarily in its dynamic symbol table.
  llvm::orc::SymbolMap runtime;
  runtime[(*jit)->mangleAndIntern("kiln_parallel_for")] = {
      llvm::orc::ExecutorAddr::fromPtr(&kiln_parallel_for),
      llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  if (llvm::Error error =
          dylib.define(llvm::orc::absoluteSymbols(std::move(runtime))))
    throw Error("cannot give compiled code the thread pool: " +
                errorText(std::move(error)));
  if (llvm::Error error = (*jit)->addObjectFile(
          llvm::MemoryBuffer::getMemBufferCopy(object, "kiln-program")))
    throw Error("cannot load compiled code: " + errorText(std::move(error)));
  for (EntryPoint &entry : entries) {
    auto address = (*jit)->lookup(prefix + entry.name);
    if (!address)
      throw Error("compiled code has no entry point '" + entry.name +
                  "': " + errorText(address.takeError()));
    entry.function = address->toPtr<PackedFunction>();
  }
  return std::shared_ptr<llvm::orc::LLJIT>(std::move(*jit));
}

} // namespace kiln
