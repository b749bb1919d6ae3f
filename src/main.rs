fn main() -> std::process::ExitCode {
    meshctl::cli::main()
}
