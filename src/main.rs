/// The controller allocates and frees in bursts (a change rebuilds thousands of proxies'
/// lists); glibc's allocator spent half its time consolidating free chunks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    meshctl::cli::main()
}
