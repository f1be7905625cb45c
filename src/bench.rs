#[derive(clap::Args, Debug)]
pub struct AccessionArgs {}
pub async fn accession(_a: AccessionArgs) -> anyhow::Result<()> {
    Ok(())
}
