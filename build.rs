fn main() {
    // Debug info lets tests and the screenshot command find elements by
    // their accessible labels (i-slint-backend-testing's ElementHandle).
    let config = slint_build::CompilerConfiguration::new().with_debug_info(true);
    slint_build::compile_with_config("ui/app.slint", config).expect("the .slint files compile");
}
