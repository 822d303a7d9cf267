-- codeward in Neovim 0.12+: inline completions (ghost text) from `codeward serve`, checked before they are shown.
--
-- Use: copy this file to ~/.config/nvim/plugin/codeward.lua (or `:luafile` it). Options, set before it runs:
--   vim.g.codeward_cmd          command that starts the server (default { 'codeward', 'serve', '--daemon' }: every
--                               Neovim of yours shares one per-user server and one loaded model; { 'codeward',
--                               'serve' } gives this Neovim a server of its own)
--   vim.g.codeward_init_options codeward settings, nested snake_case as in codeward.toml,
--                               e.g. { engine = { max_new_tokens = 48 }, context = { policy = 'instruct' } };
--                               a remote model server (vLLM, llama.cpp's server):
--                               { engine = { engine = 'openai', base_url = 'http://gpu-box:8000/v1',
--                                            model = 'qwen2.5-coder-7b' } } (the --served-model-name) with its API key, if any, in
--                               the environment variable CODEWARD_API_KEY (engine.api_key_env names another)
-- Keys in insert mode: <Tab> accepts the suggestion, <M-]> / <M-[> cycle through suggestions, <C-Space> asks for
-- the completion-menu fallback.

vim.lsp.config('codeward', {
  cmd = vim.g.codeward_cmd or { 'codeward', 'serve', '--daemon' },
  filetypes = { 'python' },
  root_markers = { 'codeward.toml', 'pyproject.toml', '.git' },
  init_options = vim.g.codeward_init_options or vim.empty_dict(),
  -- answered to the server's workspace/configuration pull (section "codeward")
  settings = { codeward = vim.g.codeward_init_options or vim.empty_dict() },
})
vim.lsp.enable('codeward')

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('codeward', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if not client or client.name ~= 'codeward' then
      return
    end
    if vim.lsp.inline_completion then
      vim.lsp.inline_completion.enable(true, { bufnr = args.buf })
    end
    vim.lsp.completion.enable(true, client.id, args.buf, { autotrigger = false })
  end,
})

vim.keymap.set('i', '<Tab>', function()
  if not (vim.lsp.inline_completion and vim.lsp.inline_completion.get()) then
    return '<Tab>'
  end
end, { expr = true, desc = 'codeward: accept the inline suggestion' })
vim.keymap.set('i', '<M-]>', function()
  vim.lsp.inline_completion.select({ count = 1 })
end, { desc = 'codeward: next suggestion' })
vim.keymap.set('i', '<M-[>', function()
  vim.lsp.inline_completion.select({ count = -1 })
end, { desc = 'codeward: previous suggestion' })
vim.keymap.set('i', '<C-Space>', function()
  vim.lsp.completion.get()
end, { desc = 'codeward: completion menu' })
