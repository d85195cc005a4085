fn main() {
    std::process::exit(tiny_cloud::cli::main(std::env::args_os().collect()));
}
