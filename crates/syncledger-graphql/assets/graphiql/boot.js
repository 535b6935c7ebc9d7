// Starts GraphiQL against this server's own endpoints. It is a file rather than an inline script
// so the page's Content-Security-Policy can allow scripts from this origin and nothing else.
(function () {
  'use strict';
  var http = window.location.origin;
  var ws = http.replace(/^http/, 'ws');
  var fetcher = GraphiQL.createFetcher({
    url: http + '/graphql',
    subscriptionUrl: ws + '/graphql/ws',
  });
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultHeaders: '{"Authorization": "Bearer <token>"}',
    })
  );
})();
