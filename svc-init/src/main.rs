fn main() {
    svc_init::run()
}
